"""Loading the model and tokenizer for a profile (notebook 04).

The same functions load XGen-7B from the Hub and the tiny model from a local folder: only the
name differs. Quantised profiles get a ``BitsAndBytesConfig`` (the 2024 ``load_in_8bit=True``
argument is gone from ``from_pretrained``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, ModelLoadError
from .profile import XGEN_ID, Hardware, Profile, detect_hardware

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def torch_dtype(profile: Profile, hw: Hardware | None = None) -> torch.dtype:
    """The dtype for the weights that stay unquantised and for the matrix multiplies.

    bf16 needs compute capability >= 8.0; on an older GPU (a T4) the quantised profiles compute
    in fp16, and on a CPU everything stays fp32.
    """
    import torch

    hw = detect_hardware() if hw is None else hw
    if profile.precision == "bf16":
        if not hw.bf16:
            raise ConfigError(
                f"bf16 was asked for, but {hw.name} does not support it (compute capability "
                f"{hw.capability[0]}.{hw.capability[1]} < 8.0)",
                "use COURSE_PROFILE=colab (4-bit weights, fp16 compute) on this GPU")
        return torch.bfloat16
    if profile.precision == "fp32" or not hw.cuda:
        return torch.float32
    if profile.precision == "fp16":
        return torch.float16
    return torch.bfloat16 if hw.bf16 else torch.float16


def quantization_config(profile: Profile, hw: Hardware | None = None) -> Any | None:
    """``BitsAndBytesConfig`` for the 4-bit (``nf4``) and 8-bit (``int8``) profiles, else None."""
    if not profile.quantized:
        return None
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except Exception as exc:
        raise ModelLoadError(
            f"the '{profile.name}' profile stores weights in {profile.precision}, but bitsandbytes "
            f"cannot be used here ({type(exc).__name__}: {exc})",
            "pip install bitsandbytes (see requirements.txt), or use COURSE_PROFILE=gpu") from exc
    if profile.precision == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch_dtype(profile, hw))


def _wrap_load_error(name: str, exc: Exception) -> ModelLoadError:
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    if Path(name).expanduser().exists() or name.startswith((".", "/", "~")):
        fix = "check the folder: it must hold config.json and the weights saved by save_pretrained"
    else:
        fix = ("check the hub id; offline (HF_HUB_OFFLINE=1) only models already in the cache "
               "load, so download it once with network or point COURSE_MODEL at a local folder")
    return ModelLoadError(f"could not load '{name}': {first}", fix)


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer for ``name``, with a pad token (EOS reused when the tokenizer has none)."""
    if name == XGEN_ID:
        from .xgen import load_xgen_tokenizer

        tokenizer = load_xgen_tokenizer()
    else:
        from transformers import AutoTokenizer

        from .checks import check_tokenizer_folder  # [issue 11] tokenizer files present?

        check_tokenizer_folder(name)
        try:
            tokenizer = AutoTokenizer.from_pretrained(name)
        except Exception as exc:
            raise _wrap_load_error(name, exc) from exc
    return ensure_pad_token(tokenizer)


def ensure_pad_token(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Reuse EOS as the pad token when there is none (XGen, GPT-2 and the tiny model have none).

    Safe for training here: trl masks padding through the attention mask, not by token id, so
    the EOS at the end of each response is still learned.
    """
    if tokenizer.eos_token is None:
        raise ModelLoadError(
            f"the tokenizer of '{tokenizer.name_or_path}' has no EOS token, so generation could "
            "never stop", "set tokenizer.eos_token to the model's end-of-text token before training")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(profile: Profile, hw: Hardware | None = None) -> PreTrainedModel:
    """``from_pretrained`` with the profile's dtype and quantisation, on the GPU when there is one."""
    from transformers import AutoModelForCausalLM

    from .attention import implementation
    from .checks import check_model_folder  # [issue 11] a base model's folder, a causal decoder?

    check_model_folder(profile.model)
    hw = detect_hardware() if hw is None else hw
    kwargs: dict[str, Any] = {"dtype": torch_dtype(profile, hw),
                              "attn_implementation": implementation(profile.attn_implementation)}
    quant = quantization_config(profile, hw)
    if quant is not None:
        kwargs["quantization_config"] = quant
    if hw.cuda:
        kwargs["device_map"] = {"": 0}
    try:
        return AutoModelForCausalLM.from_pretrained(profile.model, **kwargs)
    except Exception as exc:
        raise _wrap_load_error(profile.model, exc) from exc


@dataclass(frozen=True)
class EmbeddingReport:
    """Embedding rows of the model vs ids the tokenizer can produce."""

    embedding_rows: int
    tokenizer_ids: int

    @property
    def unused_rows(self) -> int:
        return self.embedding_rows - self.tokenizer_ids

    @property
    def ok(self) -> bool:
        """Every id the tokenizer produces has an embedding row (extra rows are harmless)."""
        return self.unused_rows >= 0


def embedding_report(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> EmbeddingReport:
    """Compare the model's embedding rows with the tokenizer's ids, without resizing anything.

    ``model.resize_token_embeddings(n)`` makes the input embedding (and the tied or separate
    output layer) exactly ``n`` rows: rows past ``n`` are dropped; new rows start from the average
    of the existing ones (transformers' ``mean_resizing=True``) and must then be trained. It matters when tokens are *added* (e.g. a new ``<pad>`` token, or
    chat markers): without it their ids have no row. Reusing EOS as the pad token adds nothing.

    For XGen-7B the 2024 source called ``resize_token_embeddings(len(tokenizer))`` anyway. With the
    tokenizer the Hub serves (51,200 ids since August 2023) that call changes nothing, 51,200 ->
    51,200; only with the tokenizer as first published (June-July 2023, 50,313 ids) would it
    have cut the embedding down. Comparing first says whether a resize is needed at all: every
    id must have a row (``ok``); extra, unused rows are harmless (``unused_rows``).
    """
    return EmbeddingReport(model.get_input_embeddings().num_embeddings, len(tokenizer))


def parameter_count(model: Any, trainable_only: bool = False) -> int:
    """Parameters of the model (4-bit weights are stored two per byte but counted once each)."""
    total = 0
    for p in model.parameters():
        if trainable_only and not p.requires_grad:
            continue
        n = p.numel()
        if type(p).__name__ == "Params4bit":
            n *= 2
        total += n
    return total


def memory_gib(model: Any) -> float:
    """Bytes the weights take, in GiB (``get_memory_footprint`` counts buffers too)."""
    return model.get_memory_footprint() / 2**30
