import pytest

from course_utils.data import load_alpaca, to_prompt_completion
from course_utils.errors import ConfigError
from course_utils.models import load_model, load_tokenizer
from course_utils.profile import get_profile
from course_utils.recipe import (check_max_length, describe_packed_row, lora_config,
                                   lora_target_modules, make_trainer, packing_is_isolated, sft_config,
                                   tokens_with_loss)
from conftest import CPU, H100, T4


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    p = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(out)})
    return p, load_tokenizer(p.model)


def test_lora_targets_found_from_the_model(smoke, gpt2_dir, neox_dir):
    p, _ = smoke
    assert lora_target_modules(load_model(p, CPU), "attention") == ["q_proj", "v_proj"]
    gpt2 = load_model(p.replace(model=str(gpt2_dir)), CPU)
    neox = load_model(p.replace(model=str(neox_dir)), CPU)
    assert lora_target_modules(gpt2, "attention") == ["c_attn"]
    assert lora_target_modules(neox, "attention") == ["query_key_value"]
    cfg = lora_config(p, gpt2)
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout, cfg.task_type) == (16, 32, 0.05, "CAUSAL_LM")


def test_sft_config_maps_the_source(smoke):
    p, _ = smoke
    args = sft_config(p.replace(name="x", learning_rate=2e-4, max_length=1024), CPU)
    assert args.warmup_steps == 0.1 and args.lr_scheduler_type == "linear"
    assert args.max_length == 1024 and args.packing and not args.bf16 and args.use_cpu


def test_max_length_too_small(smoke):
    p, tok = smoke
    with pytest.raises(ConfigError, match="prompt template alone"):
        check_max_length(p.replace(max_length=20), tok)


def test_peft_model_is_refused(smoke):
    from peft import get_peft_model

    p, tok = smoke
    model = load_model(p, CPU)
    wrapped = get_peft_model(model, lora_config(p, model))
    with pytest.raises(ConfigError, match="already has LoRA adapters"):
        make_trainer(p, wrapped, tok, to_prompt_completion(load_alpaca("sample", limit=8)), hw=CPU)


def test_completion_only_loss_and_eos(smoke):
    p, tok = smoke
    data = to_prompt_completion(load_alpaca("sample", limit=40))
    trainer = make_trainer(p, load_model(p, CPU), tok, data, hw=CPU)
    rows = [describe_packed_row(trainer, i) for i in range(len(trainer.train_dataset))]
    assert sum(r["examples"] for r in rows) == 40
    full = [r for r in rows if r["examples"] > 1]
    assert full and all(r["eos_tokens"] == r["examples"] for r in full)
    assert all(r["trained_tokens"] < r["tokens"] for r in rows)


def test_packed_llama_examples_do_not_see_each_other(smoke):
    p, tok = smoke
    model = load_model(p, CPU)
    assert packing_is_isolated(model, tok, "The capital of France is Paris.", "The capital of Peru is Lima.")


@pytest.mark.parametrize("name, hw", [("smoke", CPU), ("colab", T4), ("colab", H100), ("gpu", H100),
                                      ("seed", T4), ("seed", H100)])
def test_trainer_flags_come_from_the_precision_table(name, hw, monkeypatch):
    """sft_config's bf16/fp16/optim/use_cpu and the loading dtype are one row of PRECISION_TABLE.
    (SFTConfig itself refuses bf16 on a machine without such a GPU, so its keywords are recorded.)"""
    from types import SimpleNamespace

    import trl

    from course_utils.models import PRECISION_TABLE, precision_for, quantization_config

    monkeypatch.setattr(trl, "SFTConfig", lambda **kwargs: SimpleNamespace(**kwargs))

    profile = get_profile(name, hardware=hw, env={})
    precision = precision_for(profile, hw)
    machine = "cpu" if not hw.cuda else ("gpu-bf16" if hw.bf16 else "gpu")
    dtype, bf16, fp16, bits = PRECISION_TABLE[(profile.precision, machine)]
    assert (str(precision.dtype), precision.bf16, precision.fp16, precision.bits) == (f"torch.{dtype}", bf16, fp16, bits)
    args = sft_config(profile, hw)
    assert (args.bf16, args.fp16, args.use_cpu) == (bf16, fp16, not hw.cuda)
    assert args.optim == ("adamw_torch_fused" if hw.cuda else "adamw_torch") == precision.optim
    quant = quantization_config(profile, hw)
    assert (quant is None) == (bits is None)
    if quant is not None:
        assert (quant.load_in_4bit, quant.load_in_8bit) == (bits == 4, bits == 8)
        assert quant.bnb_4bit_compute_dtype == precision.dtype


def test_tokens_with_loss_one_definition():
    assert tokens_with_loss({"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}) == 2
    assert tokens_with_loss({"input_ids": [1, 2, 3], "completion_mask": [0, 0, 1]}) == 1
    assert tokens_with_loss({"input_ids": [1, 2, 3]}) == 3
