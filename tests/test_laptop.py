"""The laptop profile (a real 135 M base model on a CPU or Apple silicon) and the mps device,
with stand-ins: a Mac's torch is played by monkeypatching torch.cuda / torch.backends.mps, and the
series runs with the shipped tiny model standing in for SmolLM2 (COURSE_MODEL), offline, in
``make test-laptop`` (``test_the_series_ran_on_the_laptop_settings`` checks what that run left)."""

import json
import os
import sys
from pathlib import Path

import pytest

from conftest import CPU, H100, MPS, T4
from course_utils.errors import ConfigError, ProfileError
from course_utils.models import precision_for
from course_utils.profile import SMOLLM2_ID, TINY_MODEL_DIR, detect_hardware, get_profile

REPO = Path(__file__).resolve().parent.parent


def _env(tmp_path, **extra):
    return {"COURSE_OUTPUT_DIR": str(tmp_path), **extra}


def test_detects_apple_silicon(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    hw = detect_hardware()
    assert hw.mps and not hw.cuda and hw.device == "mps" and not hw.bf16
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert detect_hardware().device == "cpu"


@pytest.mark.parametrize("hw", [CPU, MPS], ids=["cpu", "mps"])
def test_no_cuda_defaults_to_smoke_and_says_when_to_pick_laptop(hw, tmp_path):
    profile = get_profile(hardware=hw, env=_env(tmp_path))
    assert profile.name == "smoke"  # offline by default; laptop downloads a model
    assert "COURSE_PROFILE=laptop" in profile.reason
    assert ("mps" in profile.reason) == hw.mps


def test_laptop_profile_is_a_real_small_base_model(tmp_path):
    profile = get_profile(hardware=CPU, env=_env(tmp_path, COURSE_PROFILE="laptop"))
    assert profile.model == SMOLLM2_ID and profile.data == "tatsu-lab/alpaca"
    assert 1000 <= profile.data_limit <= 2000 and profile.max_length == 512
    assert profile.learning_rate != get_profile("smoke", hardware=CPU, env=_env(tmp_path)).learning_rate
    assert profile.precision == "fp32" and not profile.uses_tiny_model


def test_precision_table_places_the_model_on_mps(tmp_path):
    from course_utils.recipe import sft_config

    laptop = get_profile("laptop", hardware=MPS, env=_env(tmp_path))
    on_mps = precision_for(laptop, MPS)
    assert on_mps.device == "mps" and on_mps.device_map == {"": "mps"} and not on_mps.bf16
    assert sft_config(laptop, MPS).use_cpu is False  # the Trainer puts the model on mps itself
    on_cpu = precision_for(laptop, CPU)
    assert on_cpu.device == "cpu" and on_cpu.device_map is None
    assert sft_config(laptop, CPU).use_cpu is True
    bf16 = precision_for(laptop.replace(precision="bf16"), MPS)  # autocast over fp32 weights
    assert bf16.bf16 and str(bf16.dtype) == "torch.float32"
    with pytest.raises(ConfigError, match="does not run on"):
        precision_for(laptop.replace(precision="nf4"), MPS)  # no bitsandbytes kernels on mps
    with pytest.raises(ConfigError, match="does not support it"):
        precision_for(laptop.replace(precision="bf16"), T4)
    assert precision_for(laptop, H100).device == "cuda"


def test_gpu_profiles_still_refused_without_cuda(tmp_path):
    with pytest.raises(ProfileError, match="laptop"):
        get_profile("gpu", hardware=MPS, env=_env(tmp_path))


def test_make_test_laptop_runs_every_notebook_on_the_laptop_settings_and_ci_calls_it():
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    done = subprocess.run(["make", "-n", "-o", ".venv/.installed", "test-laptop"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    command = next(line for line in done.stdout.replace("\\\n", " ").splitlines() if "pytest" in line)
    for setting in ("COURSE_PROFILE=laptop", f'COURSE_MODEL="{TINY_MODEL_DIR}"', "COURSE_DATA=sample",
                    "COURSE_MAX_STEPS=", "COURSE_BLOCK_NETWORK=1", "HF_HUB_OFFLINE=1", "COURSE_LAPTOP_SERIES=1",
                    " notebooks ", "test_the_series_ran_on_the_laptop_settings", "--nbval-lax"):
        assert setting in command, (setting, command)
    assert "COURSE_PROFILE=smoke" not in command
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert "make test-laptop" in ci and ci.index("make test") < ci.index("make test-laptop")
    assert "make test-laptop" in (REPO / "README.md").read_text()


@pytest.mark.skipif(os.environ.get("COURSE_LAPTOP_SERIES") != "1",
                    reason="make test-laptop runs it, after the nine notebooks on the laptop profile")
def test_the_series_ran_on_the_laptop_settings():
    """``make test-laptop`` runs all nine notebooks under nbval with COURSE_PROFILE=laptop, the tiny model
    standing in for SmolLM2 (COURSE_MODEL), the shipped sample for Alpaca (COURSE_DATA) and a few steps
    (COURSE_MAX_STEPS), into one output folder; then this: 06's and 08's runs recorded the laptop
    profile's settings (max_length 512, 2 x 2 rows per step, its learning rate and eval rows), not
    smoke's, and every notebook's output is there (06's adapter, 07's merged model, 08's chat adapter)."""
    from course_utils.runs import read_record, run_record

    profile = get_profile()  # the environment make test-laptop set
    smoke = get_profile("smoke", hardware=CPU, env={"COURSE_OUTPUT_DIR": str(profile.output_dir)})
    assert profile.name == "laptop" and profile.uses_tiny_model and profile.trial, profile
    assert all(getattr(profile, k) != getattr(smoke, k) for k in ("max_length", "batch_size", "grad_accum",
                                                                   "learning_rate", "eval_rows"))
    for run in (profile, profile.replace(format="chat")):
        record = read_record(run.checkpoint_dir)
        assert record is not None, f"no run record in {run.checkpoint_dir}: did notebooks 06 and 08 run?"
        expected = json.loads(json.dumps(run_record(run), default=str))  # as 06 and 08 write it, less the data's hash
        expected.pop("data_fingerprint")
        assert {k: record.get(k) for k in expected} == expected, run.checkpoint_dir
        assert (run.adapter_dir / "adapter_config.json").is_file(), run.adapter_dir
    assert (profile.merged_dir / "config.json").is_file()  # 07's (09 writes its own merged copy there too)


def test_benchmark_uses_the_laptop_model_s_exact_shape():
    """bench/train_throughput.py --laptop trains random weights of SmolLM2-135M's published
    config (kept in bench/configs/, nothing downloaded): 135 M parameters, tied head."""
    sys.path.insert(0, str(REPO))
    from bench.train_throughput import LAPTOP_CONFIG, laptop_shape, matmul_params

    shape = laptop_shape()
    assert SMOLLM2_ID in LAPTOP_CONFIG.read_text()
    assert (shape["hidden_size"], shape["num_hidden_layers"], shape["num_attention_heads"],
            shape["num_key_value_heads"], shape["intermediate_size"], shape["vocab_size"]) == \
        (576, 30, 9, 3, 1536, 49152)
    assert shape["tie_word_embeddings"] is True
    assert abs(matmul_params(shape) / 1e6 - 134.5) < 0.5  # SmolLM2-135M's 134.5 M weights
