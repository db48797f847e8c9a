"""The one recipe: LoRA and SFT configuration and the function that builds the trainer.

Notebooks 05 and 06 write these calls out in their cells (``LoraConfig(...)``, ``SFTConfig(...)``,
``SFTTrainer(...)``), filled from the same profile fields and the same precision table
(:data:`course_utils.models.PRECISION_TABLE`); ``tests/test_notebook_recipe.py`` executes the
notebooks in a kernel and checks that their objects equal these. The script mirror
``python -m course_utils.finetune`` (through :func:`course_utils.runs.run`) and the benchmark
build their trainer with :func:`make_trainer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import format_prompt
from .errors import ConfigError, TrainingError
from .files import atomic_dir
from .profile import Hardware, Profile, detect_hardware

if TYPE_CHECKING:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase
    from trl import SFTConfig, SFTTrainer

# Module class names that mark an attention block, for architectures peft has no default for.
_ATTENTION_HINTS = ("attention", "attn")


def lora_target_modules(model: PreTrainedModel, which: str) -> list[str] | str:
    """Which layers get LoRA adapters, found from the model rather than typed in.

    ``"all-linear"``: every linear layer but the output head (peft resolves it for any model).
    ``"attention"``: peft's default for the architecture (LLaMA: ``q_proj``, ``v_proj``; GPT-2:
    ``c_attn``; GPT-NeoX: ``query_key_value``), else every linear layer inside an attention block.
    """
    if which == "all-linear":
        return "all-linear"
    if which != "attention":
        raise ConfigError(f"unknown LoRA target set '{which}'", "use 'all-linear' or 'attention'")
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as defaults

    model_type = getattr(model.config, "model_type", None)
    if model_type in defaults:
        return list(defaults[model_type])
    names = set()
    for parent_name, parent in model.named_modules():
        if not any(h in type(parent).__name__.lower() for h in _ATTENTION_HINTS):
            continue
        for child_name, child in parent.named_children():
            if type(child).__name__ in ("Linear", "Conv1D", "Linear8bitLt", "Linear4bit"):
                names.add(child_name)
    if not names:
        return "all-linear"
    return sorted(names)


def lora_config(profile: Profile, model: PreTrainedModel) -> LoraConfig:
    """The adapter: rank ``r``, scale ``alpha / r``, dropout on the adapter's input."""
    from peft import LoraConfig

    return LoraConfig(
        r=profile.lora_r, lora_alpha=profile.lora_alpha, lora_dropout=profile.lora_dropout,
        target_modules=lora_target_modules(model, profile.lora_targets),
        bias="none", task_type="CAUSAL_LM",
    )


def sft_config(profile: Profile, hw: Hardware | None = None, *, eval: bool = True,
               **overrides: Any) -> SFTConfig:
    """The source's ``TrainingArguments`` + ``SFTTrainer`` arguments, on today's ``SFTConfig``.

    2024 -> today: ``warmup_ratio=0.1`` -> ``warmup_steps=0.1`` (a value below 1 is a ratio);
    ``max_seq_length`` -> ``max_length``; ``dataset_text_field``/``packing`` moved here from the
    trainer; ``tokenizer=`` -> ``processing_class=`` on the trainer. The chat variant (notebook 08,
    ``profile.format == "chat"``) adds one option: ``assistant_only_loss=True``; its checkpoints go to
    their own folder (``profile.checkpoint_dir`` follows the format).
    """
    from trl import SFTConfig

    from .models import precision_for

    precision = precision_for(profile, hw)
    kwargs: dict[str, Any] = dict(
        output_dir=str(profile.checkpoint_dir),
        per_device_train_batch_size=profile.batch_size,
        per_device_eval_batch_size=profile.batch_size,
        gradient_accumulation_steps=profile.grad_accum,
        learning_rate=profile.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=profile.warmup,
        num_train_epochs=profile.epochs,
        max_steps=profile.max_steps,
        optim=precision.optim,
        logging_steps=profile.logging_steps,
        save_strategy="steps",
        save_steps=profile.save_steps,
        save_total_limit=profile.keep_checkpoints,  # None: keep every checkpoint
        eval_strategy="steps" if eval else "no",
        eval_steps=profile.eval_steps,
        max_length=profile.max_length,
        packing=profile.packing,
        bf16=precision.bf16,
        fp16=precision.fp16,
        activation_checkpointing=profile.gradient_checkpointing,  # was gradient_checkpointing
        use_cpu=precision.device == "cpu",  # cuda and mps: the Trainer takes the device itself
        report_to="none",
        seed=0,
    )
    if profile.format == "chat":  # loss on the assistant's turns only, found by the template's {% generation %}
        kwargs["assistant_only_loss"] = True
    kwargs.update(overrides)
    return SFTConfig(**kwargs)


def check_max_length(profile: Profile, tokenizer: PreTrainedTokenizerBase) -> int:
    """Tokens the longer (with-input) template takes before any content; raise if no room is left."""
    template = len(tokenizer(format_prompt("x", "x"), add_special_tokens=False)["input_ids"])
    if profile.max_length < template + 16:
        raise ConfigError(
            f"max_length={profile.max_length} leaves no room: the prompt template alone is "
            f"{template} tokens", f"use a max_length of at least {template + 16} (the course uses 1024)")
    return template


def make_trainer(profile: Profile, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 train_dataset: Dataset, eval_dataset: Dataset | None = None,
                 hw: Hardware | None = None, **overrides: Any) -> SFTTrainer:
    """An ``SFTTrainer`` for the profile: the *base* model and the LoRA config go in once.

    The 2024 code wrapped the model with ``get_peft_model`` *and* passed ``peft_config``; today
    that raises ``ValueError``. For 8-bit/4-bit weights the model is first prepared with
    ``prepare_model_for_kbit_training`` (``prepare_model_for_int8_training`` was removed).
    """
    from peft import PeftModel
    from trl import SFTTrainer

    if isinstance(model, PeftModel):
        raise ConfigError("the model already has LoRA adapters (get_peft_model was called)",
                          "pass the base model: make_trainer adds the adapters from the profile")
    check_max_length(profile, tokenizer)
    if profile.format == "chat" and "{% generation %}" not in (tokenizer.chat_template or "").replace("-", ""):
        raise ConfigError("the chat format needs a chat template with {% generation %} around the "
                          "assistant's text, and this tokenizer has none",
                          "give it the course's template first: course_utils.chat.with_chat_template(tokenizer)")
    if {"prompt", "completion"} <= set(train_dataset.column_names):  # notebook 06's rows
        from .checks import check_training_rows  # EOS text inside an output; prompts that leave no answer

        check_training_rows(tokenizer, train_dataset, profile.max_length)
    hw = detect_hardware() if hw is None else hw
    if profile.quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=profile.gradient_checkpointing)
    args = sft_config(profile, hw, eval=eval_dataset is not None, **overrides)
    return SFTTrainer(model=model, args=args, train_dataset=train_dataset,
                      eval_dataset=eval_dataset, processing_class=tokenizer,
                      peft_config=lora_config(profile, model))


def train(trainer: Any, resume_from_checkpoint: str | None = None) -> Any:
    """``trainer.train()``, with out-of-memory turned into a message that says what to lower."""
    import torch

    try:
        return trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    except torch.OutOfMemoryError as exc:
        args = trainer.args
        raise TrainingError(
            f"out of GPU memory at step {trainer.state.global_step} with batch size "
            f"{args.per_device_train_batch_size} x max_length {args.max_length}",
            "lower batch_size (raise grad_accum to keep tokens per step) or max_length, turn on "
            "gradient checkpointing, or use the 4-bit 'colab' profile; then rerun (training resumes "
            "from the last checkpoint)") from exc


def loss_history(trainer: Any) -> list[dict[str, float]]:
    """The logged training and eval losses, one dict per log line with a ``step`` key."""
    rows = []
    for entry in trainer.state.log_history:
        row = {k: entry[k] for k in ("loss", "eval_loss") if k in entry}
        if row:
            rows.append({"step": entry["step"], **row})
    return rows


def loss_drop(history: list[dict[str, float]]) -> float:
    """Share by which the training loss fell from the first to the last logged value."""
    losses = [r["loss"] for r in history if "loss" in r]
    if len(losses) < 2:
        raise ConfigError("fewer than two losses were logged",
                          "train for more steps or lower logging_steps")
    return 1 - losses[-1] / losses[0]


def describe_drop(drop: float) -> str:
    """The loss trend in words: "loss fell 62%", "loss rose 31%" (never "fell -31%")."""
    if abs(drop) < 0.005:
        return "loss unchanged"
    return f"loss fell {drop:.0%}" if drop > 0 else f"loss rose {-drop:.0%}"


def tokens_per_second(trainer: Any) -> float:
    """Training tokens (padding excluded) per second of the last ``train()`` call."""
    logs = trainer.state.log_history
    tokens = max((e["num_tokens"] for e in logs if "num_tokens" in e), default=0.0)
    runtime = next((e["train_runtime"] for e in reversed(logs) if "train_runtime" in e), None)
    return float(tokens) / runtime if runtime else 0.0


def save_adapter(trainer: Any, path: Path) -> Path:
    """Save the LoRA adapter (and tokenizer) to ``path``, atomically."""
    with atomic_dir(Path(path)) as tmp:
        trainer.model.save_pretrained(tmp)
        trainer.processing_class.save_pretrained(tmp)
    return Path(path)


def packing_is_isolated(model: Any, tokenizer: PreTrainedTokenizerBase, first: str, second: str) -> bool:
    """Does a packed row keep examples apart? Runs ``second`` alone and packed after ``first``
    (position ids restarting at 0, no attention mask and no KV cache, as trl's padding-free
    training sends it) and compares the logits of ``second``. transformers turns restarting position ids into a
    block-diagonal mask for sdpa/eager attention, and flash-attention uses them as boundaries."""
    import torch

    a = tokenizer(first, add_special_tokens=False)["input_ids"]
    b = tokenizer(second, add_special_tokens=False)["input_ids"]
    device = model.device
    ids = torch.tensor([a + b], device=device)
    positions = torch.tensor([list(range(len(a))) + list(range(len(b)))], device=device)
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=positions, use_cache=False).logits[0, len(a):].float()
        alone = model(input_ids=torch.tensor([b], device=device)).logits[0].float()
    tolerance = 1e-4 if model.dtype == torch.float32 else 5e-2
    return bool(((packed - alone).abs().max() <= tolerance * max(1.0, alone.abs().max())).item())


def tokens_with_loss(row: dict[str, Any]) -> int:
    """The course's one definition of the tokens of a prepared training row that carry loss.

    trl 1.16 folds the prompt/completion split into a ``labels`` column (-100: no loss); older trl
    kept a ``completion_mask`` (1: loss) for its collator; a plain ``text`` row trains every token.
    """
    if "labels" in row:
        return sum(x != -100 for x in row["labels"])
    if "completion_mask" in row:
        return sum(row["completion_mask"])
    return len(row["input_ids"])


def describe_packed_row(trainer: Any, index: int = 0) -> dict[str, int]:
    """What one packed training row holds: examples, tokens, tokens that carry loss, EOS tokens."""
    row = trainer.train_dataset[index]
    return {
        "examples": len(row.get("seq_lengths", [0])),
        "tokens": len(row["input_ids"]),
        "trained_tokens": tokens_with_loss(row),
        "eos_tokens": row["input_ids"].count(trainer.processing_class.eos_token_id),
    }
