"""Loading the model and tokenizer for a profile (notebook 04 writes these calls out).

:data:`PRECISION_TABLE` is the one place that decides precision: profile precision x machine ->
the ``from_pretrained`` dtype, ``SFTConfig``'s ``bf16``/``fp16`` flags and the bitsandbytes storage
bits. Notebooks 04, 06 and 07 and :mod:`course_utils.recipe` all read it through
:func:`precision_for`. :func:`load_tokenizer` and :func:`load_model` make notebook 04's calls for the
later notebooks, the script mirror and the benchmark (the 2024 ``load_in_8bit=True`` argument of
``from_pretrained`` is gone: quantised profiles pass a ``BitsAndBytesConfig``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, ModelLoadError
from .profile import PRECISIONS, XGEN_ID, Hardware, Profile, detect_hardware

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


# The one table that decides precision (notebooks 04 and 06, the recipe, the benchmark read it):
# profile precision x machine -> (from_pretrained dtype, SFTConfig bf16, SFTConfig fp16, storage bits).
# "gpu-bf16": compute capability >= 8.0 (A100, H100, L4...); "gpu": older cards such as the T4;
# "mps": Apple silicon (bf16 there is autocast over fp32 weights; accelerate allows it on macOS 14+).
# A missing pair is refused: bf16 needs a GPU that has it; bitsandbytes has no mps kernels.
PRECISION_TABLE: dict[tuple[str, str], tuple[str, bool, bool, int | None]] = {
    ("fp32", "cpu"):      ("float32",  False, False, None),
    ("fp32", "gpu"):      ("float32",  False, False, None),
    ("fp32", "gpu-bf16"): ("float32",  False, False, None),
    ("bf16", "gpu-bf16"): ("bfloat16", True,  False, None),
    ("fp32", "mps"):      ("float32",  False, False, None),
    ("bf16", "mps"):      ("float32",  True,  False, None),
    ("fp16", "cpu"):      ("float32",  False, False, None),
    ("fp16", "gpu"):      ("float16",  False, True,  None),
    ("fp16", "gpu-bf16"): ("float16",  False, True,  None),
    ("nf4",  "cpu"):      ("float32",  False, False, 4),     # bitsandbytes 4-bit runs on a CPU too
    ("nf4",  "gpu"):      ("float16",  False, True,  4),     # Colab's T4: QLoRA with fp16 compute
    ("nf4",  "gpu-bf16"): ("bfloat16", True,  False, 4),
    ("int8", "cpu"):      ("float32",  False, False, 8),
    ("int8", "gpu"):      ("float16",  False, False, 8),     # the 2024 recipe set no mixed-precision flag
    ("int8", "gpu-bf16"): ("bfloat16", False, False, 8),
}


@dataclass(frozen=True)
class Precision:
    """One row of :data:`PRECISION_TABLE`, for a profile on a machine."""

    dtype: torch.dtype  # ``from_pretrained(dtype=...)``, and the 4-bit compute dtype
    bf16: bool  # ``SFTConfig(bf16=...)``: mixed precision in bfloat16
    fp16: bool  # ``SFTConfig(fp16=...)``: mixed precision in float16 (GPUs without bf16)
    bits: int | None  # 4 or 8: weights stored by bitsandbytes; None: stored in ``dtype``
    gpu: bool  # the model goes to CUDA GPU 0 (``device_map``), else it stays on the CPU or mps
    mps: bool = False  # Apple silicon: the model goes to the mps device

    @property
    def device(self) -> str:
        return "cuda" if self.gpu else "mps" if self.mps else "cpu"

    @property
    def device_map(self) -> dict[str, int | str] | None:
        """``from_pretrained(device_map=...)``: the whole model on GPU 0 or on mps, or None on a CPU."""
        return {"": 0} if self.gpu else {"": "mps"} if self.mps else None

    @property
    def optim(self) -> str:
        """AdamW as one fused kernel on a GPU; the plain PyTorch loop on a CPU."""
        return "adamw_torch_fused" if self.gpu else "adamw_torch"


def _machine(hw: Hardware) -> str:
    if not hw.cuda:
        return "mps" if hw.mps else "cpu"
    return "gpu-bf16" if hw.bf16 else "gpu"


def precision_for(profile: Profile, hw: Hardware | None = None) -> Precision:
    """Look the profile's precision up in :data:`PRECISION_TABLE` for this machine."""
    import torch

    hw = detect_hardware() if hw is None else hw
    row = PRECISION_TABLE.get((profile.precision, _machine(hw)))
    if row is None:
        if profile.precision == "bf16" and not hw.mps:
            raise ConfigError(
                f"bf16 was asked for, but {hw.name} does not support it (compute capability "
                f"{hw.capability[0]}.{hw.capability[1]} < 8.0)",
                "use COURSE_PROFILE=colab (4-bit weights, fp16 compute) on this GPU")
        if profile.precision in PRECISIONS:
            raise ConfigError(f"precision '{profile.precision}' does not run on {hw.name} ({_machine(hw)})",
                              "use COURSE_PROFILE=laptop (fp32) here, or a CUDA GPU for 4/8-bit weights")
        raise ConfigError(f"unknown precision '{profile.precision}'",
                          f"use one of: {', '.join(sorted({p for p, _ in PRECISION_TABLE}))}")
    dtype, bf16, fp16, bits = row
    return Precision(getattr(torch, dtype), bf16, fp16, bits, hw.cuda, hw.mps)


def precision_table(profile: Profile, hw: Hardware | None = None) -> Any:
    """:data:`PRECISION_TABLE` as notebook 04 prints it: one row per precision a profile uses (with
    those profiles), one column per kind of machine, each cell the weights' dtype (and the storage
    bits when bitsandbytes quantizes them), "-" where the pair is refused. This machine's column and
    this profile's row are marked with ``*``; Apple's mps column is shown only on a Mac."""
    import pandas as pd

    from .profile import _PROFILES

    here = _machine(detect_hardware() if hw is None else hw)
    machines = {"cpu": "CPU", "gpu": "GPU, no bf16 (T4)", "gpu-bf16": "GPU, bf16", "mps": "Apple mps"}
    if here != "mps":
        del machines["mps"]
    table = {}
    for precision in ("fp32", "bf16", "nf4", "int8"):
        users = [name for name, fields in _PROFILES.items() if fields["precision"] == precision]
        row = {}
        for machine, title in machines.items():
            cell = PRECISION_TABLE.get((precision, machine))
            title += " *" if machine == here else ""
            row[title] = "-" if cell is None else (f"{cell[3]}-bit, " if cell[3] else "") + cell[0]
        label = f"{precision}: {', '.join(users)}"
        table[label + (" *" if precision == profile.precision else "")] = row
    return pd.DataFrame(table).T


def torch_dtype(profile: Profile, hw: Hardware | None = None) -> torch.dtype:
    """The dtype for the weights that stay unquantised and for the matrix multiplies."""
    return precision_for(profile, hw).dtype


def quantization_config(profile: Profile, hw: Hardware | None = None) -> Any | None:
    """``BitsAndBytesConfig`` for the 4-bit (``nf4``) and 8-bit (``int8``) profiles, else None.

    Built with the same keywords notebook 04 writes out (the 4-bit ones are ignored at 8 bits).
    """
    precision = precision_for(profile, hw)
    if precision.bits is None:
        return None
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except Exception as exc:
        raise ModelLoadError(
            f"the '{profile.name}' profile stores weights in {profile.precision}, but bitsandbytes "
            f"cannot be used here ({type(exc).__name__}: {exc})",
            "pip install bitsandbytes (see requirements.txt), or use COURSE_PROFILE=gpu") from exc
    return BitsAndBytesConfig(
        load_in_4bit=precision.bits == 4,
        load_in_8bit=precision.bits == 8,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=precision.dtype,
    )


def _wrap_load_error(name: str, exc: Exception) -> ModelLoadError:
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    first = f"{type(exc).__name__}: {first}" if type(exc).__name__ not in first else first
    if "safetensor" in type(exc).__name__.lower() or "deserializ" in first.lower():
        fix = ("a weights file in that folder is damaged or cut short (a copy or a download that "
               "stopped): copy or download the model again, or save it again with save_pretrained")
    elif Path(name).expanduser().exists() or name.startswith((".", "/", "~")):
        fix = "check the folder: it must hold config.json and the weights saved by save_pretrained"
    else:
        fix = ("check the hub id; offline (HF_HUB_OFFLINE=1) only models already in the cache "
               "load, so download it once with network or point COURSE_MODEL at a local folder")
    return ModelLoadError(f"could not load '{name}': {first}", fix)


@contextmanager
def model_load_errors(name: str, check: str | None = None) -> Iterator[None]:
    """Around a ``from_pretrained`` call (notebook 04): a library failure (a misspelt or uncached
    Hub id, a folder without weights, a corrupt safetensors file) becomes one
    :class:`ModelLoadError` naming the model, with the fix.

    ``check="tokenizer"`` first checks that a local folder holds tokenizer files
    (:func:`~course_utils.checks.check_tokenizer_folder`); ``check="model"`` that it holds a causal
    decoder, not an adapter (:func:`~course_utils.checks.check_model_folder`)."""
    from .checks import check_model_folder, check_tokenizer_folder

    folder_checks = {None: None, "tokenizer": check_tokenizer_folder, "model": check_model_folder}
    if check not in folder_checks:
        raise ValueError(f"check must be 'tokenizer', 'model' or None, not {check!r}")
    if folder_checks[check] is not None:
        folder_checks[check](name)
    try:
        yield
    except ModelLoadError:
        raise
    except Exception as exc:
        raise _wrap_load_error(str(name), exc) from exc


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer for ``name``, with a pad token (EOS reused when the tokenizer has none): notebook
    04's ``AutoTokenizer.from_pretrained`` (XGen-7B: :func:`course_utils.xgen.load_xgen_tokenizer`)
    and its pad-token decision."""
    if name == XGEN_ID:
        from .xgen import load_xgen_tokenizer

        tokenizer = load_xgen_tokenizer()
    else:
        from transformers import AutoTokenizer

        from .checks import check_tokenizer_folder  # tokenizer files present?

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
    """Notebook 04's ``from_pretrained`` call: the profile's dtype and quantisation, on GPU 0 when
    there is one (a test checks the two stay equal)."""
    from transformers import AutoModelForCausalLM

    from .attention import implementation
    from .checks import check_model_folder  # a base model's folder, a causal decoder?

    from .checks import check_model  # causal, positions for max_length (as the script checks)

    check_model_folder(profile.model)
    precision = precision_for(profile, hw)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            profile.model, dtype=precision.dtype, quantization_config=quantization_config(profile, hw),
            device_map=precision.device_map, attn_implementation=implementation(profile.attn_implementation))
    except Exception as exc:
        raise _wrap_load_error(profile.model, exc) from exc
    check_model(model, None, profile.max_length)
    return model


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
