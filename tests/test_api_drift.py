"""Fail loudly when trl, transformers, peft, lm-eval, huggingface_hub or openai drop or deprecate a keyword the course passes.

Each test records the keywords a course_utils function really passes (by swapping the library
class for a recorder) and checks them against the installed library's signature, so a rename
upstream names itself here instead of breaking a notebook cell.
"""

import dataclasses
import inspect
import warnings

import pytest

from course_utils.profile import get_profile
from conftest import CPU, T4


def _record(monkeypatch, module, name):
    calls = []

    def recorder(*args, **kwargs):
        calls.append(kwargs)
        return kwargs

    real = getattr(module, name)
    monkeypatch.setattr(module, name, recorder)
    return real, calls


def _accepted(target):
    if dataclasses.is_dataclass(target):
        return {f.name for f in dataclasses.fields(target)}
    return set(inspect.signature(target).parameters)


def _check(real, calls, what):
    assert calls, f"{what} was not called"
    unknown = set().union(*calls) - _accepted(real)
    assert not unknown, f"{what} no longer accepts {sorted(unknown)}: update course_utils"


def test_sft_config_keywords(monkeypatch):
    import trl

    from course_utils.recipe import sft_config

    real, calls = _record(monkeypatch, trl, "SFTConfig")
    sft_config(get_profile(hardware=CPU, env={}), CPU)
    _check(real, calls, "trl.SFTConfig")


def test_sft_config_has_no_deprecated_keywords():
    from course_utils.recipe import sft_config

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        sft_config(get_profile(hardware=CPU, env={}), CPU)


def test_lora_config_keywords(monkeypatch):
    import peft

    from course_utils.models import load_model
    from course_utils.recipe import lora_config

    profile = get_profile(hardware=CPU, env={})
    model = load_model(profile, CPU)
    real, calls = _record(monkeypatch, peft, "LoraConfig")
    lora_config(profile, model)
    _check(real, calls, "peft.LoraConfig")


@pytest.mark.parametrize("name", ["colab", "seed"])
def test_bitsandbytes_config_keywords(monkeypatch, name):
    import transformers

    from course_utils.models import quantization_config

    real, calls = _record(monkeypatch, transformers, "BitsAndBytesConfig")
    quantization_config(get_profile(name, hardware=T4, env={}), T4)
    _check(real.__init__, calls, "transformers.BitsAndBytesConfig")


def test_sft_trainer_keywords(monkeypatch):
    import trl

    from course_utils.data import load_alpaca, to_prompt_completion
    from course_utils.models import load_model, load_tokenizer
    from course_utils.recipe import make_trainer

    profile = get_profile(hardware=CPU, env={})
    model, tok = load_model(profile, CPU), load_tokenizer(profile.model)
    real, calls = _record(monkeypatch, trl, "SFTTrainer")
    make_trainer(profile, model, tok, to_prompt_completion(load_alpaca("sample", limit=4)), hw=CPU)
    _check(real.__init__, calls, "trl.SFTTrainer")


def test_other_library_calls():
    from peft import PeftModel, prepare_model_for_kbit_training
    from transformers import GenerationConfig, Trainer

    assert "use_gradient_checkpointing" in _accepted(prepare_model_for_kbit_training)
    assert {"model", "model_id"} <= _accepted(PeftModel.from_pretrained)
    assert "resume_from_checkpoint" in _accepted(Trainer.train)
    config = GenerationConfig(max_new_tokens=4, do_sample=False, eos_token_id=0, pad_token_id=0)
    assert config.max_new_tokens == 4 and config.eos_token_id == 0


def test_evaluate_and_ship_calls():
    """Notebook 09's calls: lm-eval's Python API and HF backend, the Hub upload, the openai client, and
    the flags course_utils.evaluate passes to `transformers serve`."""
    import yaml
    from huggingface_hub import HfApi
    from lm_eval import simple_evaluate
    from lm_eval.config.task import TaskConfig
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from openai import OpenAI
    from openai.resources.chat.completions import Completions as ChatCompletions
    from openai.resources.completions import Completions
    from transformers.cli.serve import Serve

    from course_utils.evaluate import TASKS_DIR, serve_command

    assert {"model", "model_args", "tasks", "device", "batch_size", "limit", "task_manager",
            "log_samples", "apply_chat_template", "system_instruction"} <= _accepted(simple_evaluate)
    assert {"pretrained", "peft", "dtype", "device"} <= _accepted(HFLM.__init__)  # device: see below
    assert {"include_path", "include_defaults"} <= _accepted(TaskManager.__init__)
    for path in TASKS_DIR.glob("*.yaml"):  # every key of the course's task is a TaskConfig field
        keys = set(yaml.load(path.read_text(), Loader=yaml.BaseLoader))  # !function left unresolved
        assert keys <= _accepted(TaskConfig), f"{path.name}: {sorted(keys - _accepted(TaskConfig))}"
    assert {"private", "exist_ok"} <= _accepted(HfApi.create_repo)
    assert {"repo_id", "folder_path", "commit_message"} <= _accepted(HfApi.upload_folder)
    assert {"base_url", "api_key", "max_retries"} <= _accepted(OpenAI.__init__)
    assert {"model", "prompt", "max_tokens", "temperature"} <= _accepted(Completions.create)
    assert {"model", "messages", "max_tokens", "temperature"} <= _accepted(ChatCompletions.create)
    flags = {arg.removeprefix("--").replace("-", "_") for arg in serve_command("m", 1) if arg.startswith("--")}
    assert flags <= _accepted(Serve.__init__) and "force_model" in _accepted(Serve.__init__)


def test_lm_eval_device_inside_model_args_is_a_type_error():
    """What notebook 09 tells learners: the device goes to simple_evaluate, never into model_args."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from course_utils.evaluate import CAPITALS_TASK, TASKS_DIR
    from course_utils.profile import TINY_MODEL_DIR

    with pytest.raises(TypeError, match="device"):
        simple_evaluate(model="hf", model_args={"pretrained": str(TINY_MODEL_DIR), "device": "cpu"},
                        tasks=[CAPITALS_TASK], device="cpu",
                        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False))
