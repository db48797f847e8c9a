"""Notebooks 04-06 with COURSE_MODEL pointing at a tiny GPT-2: loading, LoRA and training run
on an architecture other than LLaMA (only the tiny model's learning checks are specific), and
notebook 06's trainer still equals the recipe's there (GPT-2 keeps its weights in Conv1D layers)."""

from conftest import COMPARE_TRAINER_WITH_RECIPE, NOTEBOOKS, run_cells_then, run_notebook


def test_gpt2_runs_through_loading_lora_and_training(gpt2_dir, tmp_path):
    env = {"COURSE_PROFILE": "smoke", "COURSE_MODEL": str(gpt2_dir), "COURSE_OUTPUT_DIR": str(tmp_path),
           "COURSE_MAX_STEPS": "10"}
    for name in ("04_model_loading", "05_lora_config"):
        run_notebook(NOTEBOOKS / f"{name}.ipynb", env)
    result = run_cells_then(NOTEBOOKS / "06_training.ipynb", env, COMPARE_TRAINER_WITH_RECIPE)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert result["args"] == {} and result["lora"] == {}, result
