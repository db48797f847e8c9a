"""Every predictable learner error: a typed CourseError with a one-line cause and a fix."""

import json
import sys

import pytest
import torch

from course_utils.data import load_alpaca
from course_utils.errors import (ConfigError, CourseError, DataError, MissingArtifactError,
                                 ModelLoadError, ProfileError, TrainingError)
from course_utils.profile import TINY_MODEL_DIR, get_profile
from conftest import CPU, T4, H100


def assert_readable(err: CourseError, *words: str) -> None:
    """A cause line, maybe a 'Where:' line, and a 'Fix:' line, short enough to read in a notebook."""
    text = str(err)
    assert isinstance(err, CourseError) and "\n  Fix: " in text
    assert len(text.splitlines()) == (3 if err.where else 2)
    assert all(len(line) < 400 for line in text.splitlines())
    for word in words:
        assert word in text, (word, text)


def test_unknown_profile():
    with pytest.raises(ProfileError) as err:
        get_profile(hardware=CPU, env={"COURSE_PROFILE": "turbo"})
    assert_readable(err.value, "turbo", "smoke, laptop, colab, gpu, seed")


@pytest.mark.parametrize("name", ["gpu", "colab", "seed"])
def test_gpu_profile_without_cuda(name):
    with pytest.raises(ProfileError) as err:
        get_profile(hardware=CPU, env={"COURSE_PROFILE": name})
    assert_readable(err.value, "needs a CUDA GPU", "COURSE_PROFILE=smoke")


def test_bf16_on_a_gpu_without_it():
    from course_utils.models import torch_dtype

    with pytest.raises(ConfigError) as err:
        torch_dtype(get_profile("gpu", hardware=H100, env={}), T4)
    assert_readable(err.value, "Tesla T4", "7.5", "colab")


def test_data_file_missing(tmp_path):
    with pytest.raises(DataError) as err:
        load_alpaca(str(tmp_path / "missing.jsonl"))
    assert_readable(err.value, "does not exist", "COURSE_DATA")


def test_data_file_unreadable(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("{this is not json\n")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_readable(err.value, "could not load")


def test_data_file_empty(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_readable(err.value, "is empty")


def test_data_missing_required_column(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "a", "input": "", "output": "b"}) + "\n")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_readable(err.value, "no 'instruction' column")


def test_max_length_too_small_for_the_template():
    from course_utils.models import load_tokenizer
    from course_utils.recipe import check_max_length

    profile = get_profile(hardware=CPU, env={}).replace(max_length=32)
    with pytest.raises(ConfigError) as err:
        check_max_length(profile, load_tokenizer(profile.model))
    assert_readable(err.value, "max_length=32", "at least")


def test_model_folder_that_does_not_exist(tmp_path):
    from course_utils.models import load_model

    with pytest.raises(ModelLoadError) as err:
        load_model(get_profile(hardware=CPU, env={"COURSE_MODEL": str(tmp_path / "nope")}), CPU)
    assert_readable(err.value, "nope", "check the folder")


def test_hub_id_offline_without_a_local_copy(monkeypatch, tmp_path):
    from course_utils.models import load_model, load_tokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(ModelLoadError) as err:
        load_tokenizer("some-org/some-model")
    assert_readable(err.value, "some-org/some-model", "HF_HUB_OFFLINE")
    with pytest.raises(ModelLoadError):
        load_model(get_profile(hardware=CPU, env={"COURSE_MODEL": "some-org/some-model"}), CPU)


def test_tokenizer_without_eos():
    from transformers import AutoTokenizer

    from course_utils.models import ensure_pad_token

    tok = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    tok.eos_token = None
    with pytest.raises(ModelLoadError) as err:
        ensure_pad_token(tok)
    assert_readable(err.value, "no EOS token")


def test_tokenizer_without_pad_reuses_eos():
    from transformers import AutoTokenizer

    from course_utils.models import ensure_pad_token

    tok = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    assert tok.pad_token is None
    assert ensure_pad_token(tok).pad_token_id == tok.eos_token_id


def test_adapter_missing_when_notebook_07_runs(tmp_path):
    from course_utils.inference import load_with_adapter
    from course_utils.runs import ensure_adapter

    profile = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path)}).replace(rebuild_missing=False)
    with pytest.raises(MissingArtifactError) as err:
        ensure_adapter(profile)
    assert_readable(err.value, "06_training.ipynb")
    with pytest.raises(MissingArtifactError):
        load_with_adapter(None, tmp_path / "adapter")


def test_out_of_memory_names_the_settings_then_reraises(tmp_path):
    from transformers import TrainerCallback

    from course_utils.runs import run

    class OutOfMemory(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    profile = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path)}).replace(max_steps=2)
    with pytest.raises(TrainingError) as err:
        run(profile, callbacks=[OutOfMemory()])
    assert_readable(err.value, "out of GPU memory", "batch_size", "max_length")
    assert isinstance(err.value.__cause__, torch.OutOfMemoryError)


def test_bitsandbytes_unusable(monkeypatch):
    from course_utils.models import quantization_config

    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # makes `import bitsandbytes` fail
    for name in ("colab", "seed"):
        with pytest.raises(ModelLoadError) as err:
            quantization_config(get_profile(name, hardware=T4, env={}), T4)
        assert_readable(err.value, "bitsandbytes", "pip install bitsandbytes")


def test_notebooks_show_course_errors_as_cause_and_fix(monkeypatch):
    """IPython calls ``_render_traceback_()`` (tests/test_kernel_errors.py checks a real kernel)."""
    monkeypatch.delenv("COURSE_FULL_TRACEBACKS", raising=False)
    assert DataError("the cause", "the fix")._render_traceback_() == ["DataError: the cause", "  Fix: the fix"]
    monkeypatch.setenv("COURSE_FULL_TRACEBACKS", "1")
    assert not hasattr(DataError("the cause", "the fix"), "_render_traceback_")
