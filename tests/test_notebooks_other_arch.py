"""Notebooks 04-06 with COURSE_MODEL pointing at a tiny GPT-2: loading, LoRA and training run
on an architecture other than LLaMA (only the tiny model's learning checks are specific)."""

from conftest import NOTEBOOKS, run_notebook


def test_gpt2_runs_through_loading_lora_and_training(gpt2_dir, tmp_path):
    env = {"COURSE_PROFILE": "smoke", "COURSE_MODEL": str(gpt2_dir), "COURSE_OUTPUT_DIR": str(tmp_path),
           "COURSE_MAX_STEPS": "10"}
    for name in ("04_model_loading", "05_lora_config", "06_training"):
        run_notebook(NOTEBOOKS / f"{name}.ipynb", env)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
