"""The colab (4-bit NF4), seed (8-bit) and gpu profiles' code paths, scaled down to the tiny model
on the CPU: quantised loading, k-bit preparation, LoRA targets and a few training steps."""

import pytest

from course_utils.models import load_model, load_tokenizer, parameter_count
from course_utils.profile import get_profile
from course_utils.data import train_eval_split
from course_utils.recipe import loss_history, make_trainer, train
from conftest import CPU, H100


@pytest.mark.slow
@pytest.mark.parametrize("name, layer", [("colab", "Linear4bit"), ("seed", "Linear8bitLt"), ("gpu", "Linear")])
def test_profile_trains_a_few_steps_on_cpu(name, layer, tmp_path):
    profile = get_profile(name, hardware=H100, env={"COURSE_OUTPUT_DIR": str(tmp_path)}).scaled_down()
    if name == "gpu":  # bf16 needs a GPU with compute capability >= 8: keep its recipe in fp32 here
        profile = profile.replace(precision="fp32")
    model = load_model(profile, CPU)
    assert type(model.model.layers[0].self_attn.q_proj).__name__ == layer
    train_data, eval_data = train_eval_split(profile)
    trainer = make_trainer(profile, model, load_tokenizer(profile.model), train_data, eval_data, hw=CPU)
    assert parameter_count(trainer.model, trainable_only=True) < parameter_count(trainer.model) / 2
    train(trainer)
    losses = [r["loss"] for r in loss_history(trainer) if "loss" in r]
    assert trainer.state.global_step == 3 and len(losses) == 3
    assert all(loss == loss and loss < 20 for loss in losses)  # finite


@pytest.mark.slow
def test_colab_adapter_merges_into_a_16bit_base(tmp_path):
    """Notebook 07's merge on the 4-bit profile: the base is reloaded without quantization and the
    adapter merged there (merging into 4-bit weights would re-quantize them); the saved model loads
    as a plain model and answers."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from course_utils.inference import ask
    from course_utils.models import precision_for
    from course_utils.recipe import save_adapter

    profile = get_profile("colab", hardware=H100, env={"COURSE_OUTPUT_DIR": str(tmp_path)}).scaled_down(steps=2)
    tokenizer = load_tokenizer(profile.model)
    train_data, _ = train_eval_split(profile)
    trainer = make_trainer(profile, load_model(profile, CPU), tokenizer, train_data, hw=CPU)
    train(trainer)
    save_adapter(trainer, profile.adapter_dir)
    precision = precision_for(profile, CPU)
    assert precision.bits == 4
    base16 = AutoModelForCausalLM.from_pretrained(profile.model, dtype=precision.dtype)
    merged = PeftModel.from_pretrained(base16, str(profile.adapter_dir)).merge_and_unload()
    merged.save_pretrained(profile.merged_dir)
    reloaded = AutoModelForCausalLM.from_pretrained(profile.merged_dir)
    assert type(reloaded.model.layers[0].self_attn.q_proj).__name__ == "Linear"
    assert ask(reloaded, tokenizer, ["What is the capital of Peru?"], max_new_tokens=8)[0].new_tokens > 0
