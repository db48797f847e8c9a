from pathlib import Path

import pytest

from course_utils.errors import ProfileError
from course_utils.profile import TINY_MODEL_DIR, XGEN_ID, get_profile
from conftest import CPU, T4, A10, H100


@pytest.mark.parametrize("hw, expected", [(CPU, "smoke"), (T4, "colab"), (A10, "colab"), (H100, "gpu")])
def test_default_follows_hardware(hw, expected):
    assert get_profile(hardware=hw, env={}).name == expected


def test_env_beats_hardware():
    assert get_profile(hardware=H100, env={"COURSE_PROFILE": "seed"}).name == "seed"
    assert get_profile(hardware=H100, env={"COURSE_PROFILE": " Colab "}).name == "colab"


def test_unknown_profile():
    with pytest.raises(ProfileError, match="unknown profile 'fast'") as err:
        get_profile(hardware=CPU, env={"COURSE_PROFILE": "fast"})
    assert "smoke, laptop, colab, gpu, seed" in str(err.value)


def test_smoke_and_laptop_by_name_leave_the_hardware_alone(monkeypatch):
    """Nothing in them depends on the hardware, so naming one skips detect_hardware (and the torch
    import it costs: notebook 02's kernel never imports torch); a GPU profile or no name still asks."""
    import course_utils.profile as profile_module

    asked = []
    monkeypatch.setattr(profile_module, "detect_hardware", lambda: asked.append(1) or CPU)
    assert [get_profile(n, env={}).name for n in ("smoke", "laptop")] == ["smoke", "laptop"]
    assert get_profile(env={"COURSE_PROFILE": "smoke"}).name == "smoke" and asked == []
    assert get_profile(env={}).name == "smoke" and asked == [1]
    with pytest.raises(ProfileError, match="needs a CUDA GPU"):
        get_profile("gpu", env={})
    assert asked == [1, 1]


@pytest.mark.parametrize("name", ["gpu", "colab", "seed"])
def test_gpu_profiles_need_cuda(name):
    with pytest.raises(ProfileError, match="needs a CUDA GPU"):
        get_profile(hardware=CPU, env={"COURSE_PROFILE": name})


def test_smoke_is_offline_tiny():
    p = get_profile(hardware=CPU, env={})
    assert Path(p.model) == TINY_MODEL_DIR and p.data == "sample" and p.precision == "fp32"
    assert p.uses_tiny_model and p.expected_loss_drop == 0.5


def test_real_profiles_keep_the_source_recipe():
    for name in ("colab", "gpu", "seed"):
        p = get_profile(name, hardware=H100, env={})
        assert p.model == XGEN_ID and p.data == "tatsu-lab/alpaca"
        assert (p.learning_rate, p.warmup, p.max_length, p.epochs) == (2e-4, 0.1, 1024, 1.0)
        assert (p.lora_r, p.lora_alpha, p.lora_dropout) == (16, 32, 0.05)
    assert get_profile("colab", hardware=T4, env={}).precision == "nf4"
    assert get_profile("seed", hardware=T4, env={}).precision == "int8"
    assert get_profile("gpu", hardware=H100, env={}).precision == "bf16"


def test_overrides(tmp_path):
    env = {"COURSE_MODEL": "/models/x", "COURSE_DATA": "data.jsonl", "COURSE_OUTPUT_DIR": str(tmp_path)}
    p = get_profile(hardware=CPU, env=env)
    repo = Path(__file__).resolve().parent.parent  # a relative path starts at the course folder
    assert (p.model, p.data, p.output_dir) == ("/models/x", str(repo / "data.jsonl"), tmp_path)
    assert not p.uses_tiny_model and p.expected_loss_drop == 0.0
    assert p.adapter_dir == tmp_path / "adapter"


def test_max_steps_override():
    assert get_profile(hardware=CPU, env={"COURSE_MAX_STEPS": "7"}).max_steps == 7
    with pytest.raises(ProfileError, match="not a whole number"):
        get_profile(hardware=CPU, env={"COURSE_MAX_STEPS": "many"})


def test_gpu_profile_batch_follows_the_card_memory():
    """A "40 GB" A100 reports ~39.4 GiB: it gets the gpu profile at batch 4 (27 GiB measured);
    80 GiB and larger cards get batch 8 (41 GiB measured on an H200)."""
    from course_utils.profile import Hardware, get_profile

    a100_40 = Hardware(True, "NVIDIA A100-SXM4-40GB", 39.4, (8, 0))
    h100 = Hardware(True, "NVIDIA H100 80GB HBM3", 79.2, (9, 0))
    small = get_profile(hardware=a100_40, env={})
    big = get_profile(hardware=h100, env={})
    assert (small.name, small.batch_size) == ("gpu", 4)
    assert (big.name, big.batch_size) == ("gpu", 8)
    assert big.attn_implementation == small.attn_implementation == "course_varlen"


@pytest.mark.parametrize("name", ["gpu", "colab", "seed"])
def test_each_full_run_logs_evaluates_and_saves_several_times(name):
    """Steps of one full run (epoch tokens / tokens per optimizer step): at least 4 logged losses
    (notebook 06's loss_drop needs two), 2 evaluations and 2 checkpoints to resume from."""
    import math

    from course_utils.estimate import ALPACA_EPOCH_TOKENS, COLAB_TOKENS

    p = get_profile(name, hardware=H100, env={})
    tokens = (COLAB_TOKENS if p.data_limit else ALPACA_EPOCH_TOKENS) * (1 - p.eval_rows / (p.data_limit or 52_002))
    steps = math.ceil(tokens / (p.max_length * p.batch_size * p.grad_accum))
    assert steps // p.logging_steps >= 4 and steps // p.eval_steps >= 2 and steps // p.save_steps >= 2, (steps, p)


def test_script_profile_without_cuda_says_how_to_ask_for_smoke():
    """`--profile gpu` beats COURSE_PROFILE, so the fix must not be 'set COURSE_PROFILE=smoke'."""
    with pytest.raises(ProfileError) as err:
        get_profile("gpu", hardware=CPU, env={"COURSE_PROFILE": "smoke"})
    assert "--profile smoke" in str(err.value) and "COURSE_PROFILE=smoke" not in str(err.value)


def test_a_gpu_torch_cannot_see_is_named(monkeypatch):
    import shutil

    import torch

    monkeypatch.setattr(shutil, "which", lambda cmd: "/usr/bin/nvidia-smi" if cmd == "nvidia-smi" else None)
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "CPU build" in get_profile(hardware=CPU, env={}).reason
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    assert "driver" in get_profile(hardware=CPU, env={}).reason


def test_smoke_keeps_every_checkpoint_for_notebook_09s_sweep():
    """Notebook 09 scores each of 06's checkpoints: smoke keeps them all (a few hundred KB each), saved
    often enough for several points in 06's 56 steps; the GPU profiles keep the last two (7B adapters
    and optimizer states are large)."""
    smoke = get_profile("smoke", env={})
    assert smoke.keep_checkpoints is None and 56 // smoke.save_steps >= 5
    for name in ("gpu", "colab", "seed"):
        assert get_profile(name, hardware=H100, env={}).keep_checkpoints == 2
