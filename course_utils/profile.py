"""The run profile: the one place that decides model, data, precision and sizes.

Taught in notebook 01. Every notebook calls :func:`get_profile` and reads its fields; no
notebook checks "am I in CI?" itself. The choice, in order:

1. ``COURSE_PROFILE`` (``smoke`` | ``laptop`` | ``colab`` | ``gpu`` | ``seed``) if set;
2. otherwise from the hardware: no CUDA GPU -> ``smoke``; a GPU with bf16 (compute capability
   >= 8.0) and a 40 GB card or larger (>= 38 GiB as PyTorch reports it) -> ``gpu``; any other GPU -> ``colab``.

``laptop`` (a real 135 M model on a slice of Alpaca, on a CPU or Apple silicon's ``mps``) is never
chosen by itself: it downloads ~270 MB of model and Alpaca, and the default must work offline. The
reason printed on a machine without CUDA says when to pick it.

``COURSE_MODEL`` and ``COURSE_DATA`` override the profile's model and data;
``COURSE_OUTPUT_DIR`` moves the output folder (default ``outputs/``; ``~`` is expanded, and the
folder must be writable); ``COURSE_MAX_STEPS`` caps the training steps (a quick trial run; a
positive number). Stray spaces around any of these values are ignored.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OutputError, ProfileError

XGEN_ID = "Salesforce/xgen-7b-8k-base"
ALPACA_ID = "tatsu-lab/alpaca"
TINY_MODEL_DIR = Path(__file__).parent / "assets" / "tiny-llama"
SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M"
PROFILE_NAMES = ("smoke", "laptop", "colab", "gpu", "seed")
# profiles that run without a CUDA GPU (on the CPU, or on Apple silicon's mps for laptop)
NO_CUDA_PROFILES = ("smoke", "laptop")
FORMATS = ("alpaca", "chat")  # notebook 06's prompt/completion rows, notebook 08's conversations
PRECISIONS = ("fp32", "bf16", "fp16", "nf4", "int8")
# the gpu profile trains 8 packed rows per step on a card with this much memory, else 4
# (XGen-7B shape, bf16 LoRA q,v: peak 41.1 GiB at batch 8, 27.2 GiB at batch 4, measured on an H200)
GPU_BATCH_8_GIB = 64
# a "40 GB" card (A100-40GB) reports about 39.4 GiB to PyTorch: it gets the gpu profile too
GPU_PROFILE_MIN_GIB = 38


@dataclass(frozen=True)
class Hardware:
    """What :func:`detect_hardware` saw: the first CUDA device, if any, else Apple's mps, else the CPU."""

    cuda: bool
    name: str = "CPU"
    memory_gib: float = 0.0
    capability: tuple[int, int] = (0, 0)
    mps: bool = False  # Apple silicon's GPU through PyTorch's Metal backend (no CUDA there)

    @property
    def device(self) -> str:
        """Where the model trains: ``cuda``, ``mps`` or ``cpu``."""
        return "cuda" if self.cuda else "mps" if self.mps else "cpu"

    @property
    def bf16(self) -> bool:
        """bf16 needs compute capability 8.0 (Ampere) or newer; a T4 is 7.5."""
        return self.cuda and self.capability >= (8, 0)


def detect_hardware() -> Hardware:
    import torch

    if not torch.cuda.is_available():
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return Hardware(cuda=False, name="Apple silicon (mps)", mps=True)
        return Hardware(cuda=False)
    props = torch.cuda.get_device_properties(0)
    return Hardware(True, props.name, props.total_memory / 2**30, (props.major, props.minor))


@dataclass(frozen=True)
class Profile:
    """Everything that differs between a CI smoke run, a free Colab T4 and a big GPU."""

    name: str
    model: str
    data: str
    precision: str  # one of PRECISIONS: weights for fp32/bf16/fp16, storage for nf4/int8
    max_length: int  # tokens per packed training row
    batch_size: int
    grad_accum: int
    epochs: float
    max_steps: int  # -1: train for `epochs`
    learning_rate: float
    warmup: float  # share of the steps spent warming up
    logging_steps: int
    eval_steps: int
    save_steps: int
    data_limit: int | None  # keep the first rows only (None: all)
    eval_rows: int  # held out for eval loss
    packing: bool
    gradient_checkpointing: bool
    lora_targets: str  # "all-linear" or "attention" (see recipe.lora_target_modules)
    attn_implementation: str = "sdpa"  # "course_varlen": packed rows without a dense mask (attention.py)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    max_new_tokens: int = 64
    keep_checkpoints: int | None = 2  # SFTConfig's save_total_limit: the last n checkpoints (None: every one)
    rebuild_missing: bool = False  # may a later notebook re-create a missing adapter itself?
    format: str = "alpaca"  # "chat": notebook 08's conversations, with their own checkpoints and adapter
    trial: bool = False  # COURSE_MAX_STEPS: a quick trial of the code; its figures are no learning check
    reason: str = ""
    output_dir: Path = Path("outputs")

    @property
    def uses_tiny_model(self) -> bool:
        """True when the model is the course's shipped tiny model (its learning checks apply)."""
        try:
            return Path(self.model).resolve() == TINY_MODEL_DIR.resolve()
        except OSError:
            return False

    @property
    def quantized(self) -> bool:
        """Weights stored in 4 or 8 bits (bitsandbytes)."""
        return self.precision in ("nf4", "int8")

    @property
    def expected_loss_drop(self) -> float:
        """Share by which the logged loss must fall in notebook 06's check. The tiny model is
        built to learn fast (>= 50 %); other models are only asked to improve at all."""
        return 0.5 if self.learning_checks else 0.0

    @property
    def learning_checks(self) -> bool:
        """True when the tiny model's own learning checks apply (notebooks 06-07: the loss halves,
        held-out capitals come out right): the tiny model trained by the smoke recipe it was built
        for. Standing in for another profile's model (``COURSE_MODEL``, e.g. laptop's, whose
        learning rate suits a 135 M model), it runs every cell but is not held to those numbers."""
        return self.uses_tiny_model and self.name == "smoke"

    @property
    def adapter_dir(self) -> Path:
        """This format's adapter: notebook 06's, or notebook 08's (``chat_adapter_dir``) for ``format="chat"``."""
        return self.chat_adapter_dir if self.format == "chat" else self.output_dir / "adapter"

    @property
    def chat_adapter_dir(self) -> Path:
        """Notebook 08's adapter, trained on conversations with the course's chat template; the
        tokenizer saved beside it carries that template (notebook 09 and any server use it)."""
        return self.output_dir / "adapter-chat"

    @property
    def merged_dir(self) -> Path:
        """Notebook 07's merged model (12.8 GiB, 13.8 GB, for XGen-7B). When the outputs are on Google Drive
        (Colab, ``/content/drive/...``) it goes to the runtime's own disk instead, ``/content/merged``:
        a free Drive has 15 GB in all. For ``format="chat"``: ``merged-chat``, notebook 09's merge of
        notebook 08's chat adapter (the model it ships), so it never replaces 07's."""
        name = "merged-chat" if self.format == "chat" else "merged"
        if str(self.output_dir).startswith("/content/drive"):
            return Path("/content") / name
        return self.output_dir / name

    @property
    def checkpoint_dir(self) -> Path:
        return self.output_dir / ("checkpoints-chat" if self.format == "chat" else "checkpoints")

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / "figures"

    def scaled_down(self, steps: int = 3) -> Profile:
        """The same recipe (precision, quantisation, LoRA targets, checkpointing) on the tiny model
        and the sample, for a few steps: lets ``make test`` run the GPU profiles' code paths on a
        CPU (bitsandbytes 4-bit and 8-bit work there) so they cannot rot unseen."""
        return self.replace(model=str(TINY_MODEL_DIR), data="sample", max_length=256, batch_size=2,
                            grad_accum=1, max_steps=steps, learning_rate=1e-3, logging_steps=1,
                            eval_steps=steps, save_steps=steps, data_limit=64, eval_rows=8,
                            max_new_tokens=16)

    def replace(self, **changes: Any) -> Profile:
        if "output_dir" in changes:
            changes["output_dir"] = Path(changes["output_dir"]).expanduser()
        if changes.get("format", self.format) not in FORMATS:
            raise ProfileError(f"unknown data format '{changes['format']}'", f"use one of: {', '.join(FORMATS)}")
        steps = changes.get("max_steps")
        if steps is not None and (steps == 0 or steps < -1):
            raise ProfileError(f"max_steps={steps} would not train as meant (0 trains nothing "
                               "useful, below -1 means a full epoch to transformers)",
                               "use a positive step count, or -1 to train the profile's epochs")
        return dataclasses.replace(self, **changes)

    def summary(self) -> dict[str, Any]:
        """The fields a learner should see, for a one-glance table in a notebook."""
        keys = ("name", "model", "data", "precision", "max_length", "batch_size", "grad_accum",
                "epochs", "max_steps", "learning_rate", "packing", "gradient_checkpointing",
                "lora_targets", "attn_implementation", "output_dir", "reason")
        out = {k: getattr(self, k) for k in keys}
        if self.uses_tiny_model:
            out["model"] = "course tiny model (offline, shipped)"
        if self.max_steps > 0:  # the trainer stops after max_steps, whatever the epochs say
            out["epochs"] = f"{self.epochs} (not used: max_steps decides)"
            out["max_steps"] = f"{self.max_steps} (overrides epochs)"
        else:
            out["max_steps"] = f"{self.max_steps} (epochs decide)"
        return out


# The 2024 source's hyper-parameters: lr 2e-4, 10 % warm-up, linear decay, batch 4, one epoch,
# max length 1024, packing. Each profile keeps them unless its hardware needs otherwise.
_BASE: dict[str, Any] = dict(
    model=XGEN_ID, data=ALPACA_ID, max_length=1024, batch_size=4, grad_accum=1, epochs=1.0,
    max_steps=-1, learning_rate=2e-4, warmup=0.1, logging_steps=20, eval_steps=200,
    save_steps=200, data_limit=None, eval_rows=500, packing=True,
)

_PROFILES: dict[str, dict[str, Any]] = {
    # CI and any CPU: the shipped tiny model on the shipped sample, seconds per notebook.
    # The tiny model needs a much larger learning rate than a 7B model to move in ~56 steps. Four whole
    # passes (epochs), not a step count: notebooks 06 and 08 then read their data the same number of
    # times, each with a schedule that ends at its last step, so their adapters compare fairly.
    "smoke": dict(model=str(TINY_MODEL_DIR), data="sample", precision="fp32", max_length=256,
                  batch_size=8, epochs=4.0, learning_rate=1e-2, logging_steps=5,
                  eval_steps=20, save_steps=10, eval_rows=24, gradient_checkpointing=False,
                  lora_targets="all-linear", max_new_tokens=24, rebuild_missing=True,
                  keep_checkpoints=None),  # every checkpoint (a few hundred KB each): notebook 09's sweep reads them
    # A laptop with internet, on its CPU or Apple silicon (mps): SmolLM2-135M, a *base* model
    # (Apache-2.0, LLaMA architecture like the tiny model and XGen, 2 T tokens of pre-training, so it
    # writes English but does not follow instructions yet) on 1,200 real Alpaca rows. fp32: bf16
    # autocast is slower than fp32 on laptop CPUs without AVX512-BF16/AMX, and on mps it needs macOS 14;
    # 135 M fp32 weights are 0.5 GB. No Alpaca row is near 512 tokens. ~1,100 rows x ~110 tokens are
    # ~260 packed rows: ~65 steps of 4 (2 x 2: fp32 activations of 4 rows of 512 tokens through 30
    # layers and a 49k-token head peaked near 9 GB of RAM); a 135 M model's LoRA needs a larger
    # rate than 7B's 2e-4. Speed: bench/train_throughput.py --laptop (README, "Time, memory and disk").
    "laptop": dict(model=SMOLLM2_ID, precision="fp32", max_length=512, batch_size=2, grad_accum=2,
                   learning_rate=1e-3, data_limit=1200, eval_rows=100, logging_steps=5,
                   eval_steps=20, save_steps=20, gradient_checkpointing=False,
                   lora_targets="all-linear", max_new_tokens=64),
    # Free Colab T4 (15 GB, no bf16): 4-bit NF4 weights, fp16 compute, a subsample of Alpaca.
    # 4,500 training rows are ~470 packed rows, ~30 optimizer steps of 4 x 4 rows: log, evaluate and
    # save often enough to see a trend and to resume a disconnected runtime (~5 min between saves on a T4).
    "colab": dict(precision="nf4", data_limit=5000, gradient_checkpointing=True,
                  grad_accum=4, lora_targets="all-linear", logging_steps=2, eval_steps=10, save_steps=10),
    # One big GPU: bf16 LoRA on full Alpaca, one epoch.
    # Measured with `make gpu-check` on an H200 (README): packed rows through the varlen attention
    # kernel (5x sdpa's dense mask), batch 8 on cards of 64 GiB or more (41 GiB peak), else 4 (27 GiB).
    "gpu": dict(precision="bf16", batch_size=8, gradient_checkpointing=False,
                lora_targets="attention", attn_implementation="course_varlen"),
    # The source's recipe (8-bit weights + k-bit preparation), kept to compare against.
    "seed": dict(precision="int8", gradient_checkpointing=True, lora_targets="attention"),
}


def _gpu_hidden() -> str:
    """Why torch may see no GPU on a machine that has one (nvidia-smi present), else ''."""
    import shutil

    if shutil.which("nvidia-smi") is None:
        return ""
    import torch

    build = torch.version.cuda
    return (f" (this machine has nvidia-smi, but torch {torch.__version__} "
            + ("is a CPU build: install the CUDA build of torch" if build is None else
               f"built for CUDA {build} cannot use the GPU: is the NVIDIA driver recent enough?") + ")")


def _default_name(hw: Hardware) -> tuple[str, str]:
    if not hw.cuda:
        laptop = (" (with internet, COURSE_PROFILE=laptop fine-tunes a real 135 M model on "
                  + ("this Mac's mps device" if hw.mps else "this CPU") + " in about 15 minutes)")
        return "smoke", ("no CUDA GPU found" + _gpu_hidden() + ", so the offline tiny model runs on the "
                         + ("CPU" if not hw.mps else "mps device") + laptop)
    if hw.bf16 and hw.memory_gib >= GPU_PROFILE_MIN_GIB:
        return "gpu", f"{hw.name} has {hw.memory_gib:.0f} GiB and bf16 support"
    return "colab", f"{hw.name} ({hw.memory_gib:.0f} GiB, capability {hw.capability}) suits 4-bit QLoRA"


def get_profile(name: str | None = None, hardware: Hardware | None = None,
                env: dict[str, str] | None = None) -> Profile:
    """The run profile for this machine. ``name`` beats ``COURSE_PROFILE`` beats the hardware."""
    env = dict(os.environ) if env is None else env
    asked = bool(name)
    name = name or env.get("COURSE_PROFILE") or None
    if name:
        name = name.strip().lower()
        if name not in _PROFILES:  # said before torch is imported (detect_hardware): a typo fails at once
            raise ProfileError(f"unknown profile '{name}'",
                               f"set COURSE_PROFILE to one of: {', '.join(PROFILE_NAMES)}")
    # smoke and laptop read nothing from the hardware: naming one skips detect_hardware's torch import
    # (seconds in a kernel that never needs torch, notebook 02's)
    hw = detect_hardware() if hardware is None and name not in NO_CUDA_PROFILES else hardware
    if name:
        reason = f"chosen by COURSE_PROFILE={name}" if env.get("COURSE_PROFILE") else f"asked for '{name}'"
    else:
        name, reason = _default_name(hw)
    if name not in NO_CUDA_PROFILES and not hw.cuda:
        how = ("COURSE_PROFILE=smoke (offline) or laptop" if env.get("COURSE_PROFILE") and not asked
               else "the 'smoke' (offline) or 'laptop' profile")
        raise ProfileError(f"the '{name}' profile needs a CUDA GPU and none was found{_gpu_hidden()}",
                           f"use {how} on a CPU (the script: --profile smoke), or switch the runtime to a GPU")
    fields = {**_BASE, **_PROFILES[name]}
    if name == "colab" and hw.bf16:
        reason += " (this GPU could also run bf16: try the 'gpu' profile if it has the memory)"
    for key, field in (("COURSE_MODEL", "model"), ("COURSE_DATA", "data")):
        value = (env.get(key) or "").strip()  # stray spaces from a copy-paste are not part of it
        if value:
            fields[field] = _local_path_setting(key, value)
    steps = (env.get("COURSE_MAX_STEPS") or "").strip()
    if steps:
        try:
            fields["max_steps"] = int(steps)
            fields["trial"] = True
        except ValueError:
            raise ProfileError(f"COURSE_MAX_STEPS={env['COURSE_MAX_STEPS']!r} is not a whole number",
                               "set it to a step count such as 10, or unset it") from None
        if fields["max_steps"] <= 0:
            raise ProfileError(f"COURSE_MAX_STEPS={fields['max_steps']} would not train at all "
                               "(transformers reads 0 or less as 'no limit' or one step)",
                               "set it to a positive step count such as 10, or unset it to train "
                               "the profile's full epochs")
    if 0 < fields["max_steps"] < fields["logging_steps"] * 4:
        # a short trial run still logs a few losses, evaluates and saves before it ends
        every = max(1, fields["max_steps"] // 4)
        fields.update(logging_steps=every, eval_steps=min(fields["eval_steps"], fields["max_steps"]),
                      save_steps=min(fields["save_steps"], fields["max_steps"]))
    if name == "gpu" and hw.cuda and hw.memory_gib < GPU_BATCH_8_GIB:
        fields["batch_size"] = 4  # a 40 GiB card (A100-40GB): batch 8 peaks at 41 GiB
    out_env = (env.get("COURSE_OUTPUT_DIR") or "").strip()
    if out_env:
        out = output_path(out_env, "COURSE_OUTPUT_DIR")
    else:
        try:
            out = output_path(_repo_root() / "outputs")
        except OutputError:  # a read-only checkout: the first write names the problem and the fix
            out = _repo_root() / "outputs"
    return Profile(name=name, reason=reason, output_dir=out, **fields)


def from_course_folder(value: str | Path, setting: str | None = None) -> Path:
    """A path as the learner gave it: ``~`` and ``$VARS`` expanded; a relative one is taken from the
    course folder (the repository), in the script and in the notebooks alike (whose working folder
    is ``notebooks/``), and the absolute path used is printed."""
    raw = str(value).strip()
    path = Path(os.path.expandvars(raw)).expanduser()
    if not path.is_absolute():
        path = Path(os.path.abspath(_repo_root() / path))
        if setting:
            print(f"{setting}={raw!r} is relative: using {path} (relative paths start at the course folder)")
    return path


def output_path(value: str | Path, setting: str | None = None) -> Path:
    """An output folder as given by the learner (:func:`from_course_folder`), checked to be a
    writable folder (not a file, not read-only): an :class:`~course_utils.errors.OutputError`
    otherwise. Its manifest records what the course writes there (``make clean`` removes only that)."""
    from .files import ensure_writable_dir, mark_output_root

    path = from_course_folder(value, setting)
    return mark_output_root(ensure_writable_dir(path, "the output folder (COURSE_OUTPUT_DIR)"))


def _local_path_setting(key: str, value: str) -> str:
    """COURSE_DATA / COURSE_MODEL: a relative path that names a file or folder (from the course
    folder) becomes absolute; a Hub id ("tatsu-lab/alpaca") or 'sample' stays as it is."""
    if value == "sample" or value.startswith(("http://", "https://", "/", "~", "$")):
        return value
    local = from_course_folder(value)
    looks_local = value.startswith(("./", "../")) or Path(value).suffix.lower() in (
        ".json", ".jsonl", ".csv", ".parquet", ".txt", ".tsv")
    if local.exists() or looks_local:
        print(f"{key}={value!r} is relative: using {local} (relative paths start at the course folder)")
        return str(local)
    return value


def _repo_root() -> Path:
    """The course checkout when installed with ``pip install -e .``, else the working folder."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()
