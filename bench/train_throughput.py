"""Training throughput of the course's profiles, measured through the course's own trainer factory.

    python bench/train_throughput.py              # one GPU: random weights of XGen-7B's shape
    python bench/train_throughput.py --tiny       # CPU, seconds (make test runs it)
    python bench/train_throughput.py --laptop     # CPU: the laptop profile on SmolLM2-135M's shape
    python bench/train_throughput.py --profiles gpu,seed --steps 20 --set gpu:batch_size=8
    python bench/train_throughput.py --profiles gpu --set gpu:torch_compile=True   # try a lever

For each profile it builds a random-init LLaMA model of XGen-7B's shape (32 layers, hidden 4096,
MLP 11008, 32 heads, vocab 51,200; nothing is downloaded), saves it once, loads it with
``course_utils.models.load_model`` (so the 4-bit and 8-bit profiles quantise it as they would
XGen-7B), builds the trainer with ``course_utils.recipe.make_trainer`` and times optimizer steps
after a warm-up. It prints one table: tokens/s, model TFLOP/s, share of a matrix-multiply peak
measured in the same run, peak GPU memory and the ratio to the ``seed`` profile.

Model FLOPs per token, frozen base + LoRA: forward 2N plus backward 2N (gradients of the
activations only) over the N matrix-multiply weights, plus causal attention
12 * layers * hidden * (max_length / 2); recomputation by gradient checkpointing is not counted.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

XGEN_SHAPE = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=32, vocab_size=51200)
TINY_SHAPE = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=4, vocab_size=1024)
# the laptop profile's model (SmolLM2-135M), its config.json as published, kept in the repository
LAPTOP_CONFIG = Path(__file__).parent / "configs" / "smollm2-135m.json"


def laptop_shape() -> dict:
    import json

    config = json.loads(LAPTOP_CONFIG.read_text())
    drop = ("_source", "architectures", "model_type", "torch_dtype")
    return {k: v for k, v in config.items() if k not in drop}


@dataclass
class Row:
    profile: str
    batch: str
    tokens_per_s: float
    tflops: float
    share_of_peak: float
    peak_gib: float | None
    final_loss: float
    first_loss: float = float("nan")
    label: str = ""
    error: str = ""
    peak_ram_gib: float | None = None  # on a CPU: the process's peak resident memory
    tokens_per_cpu_s: float | None = None  # tokens per second of this process's CPU time (a shared CPU)


def matmul_params(shape: dict) -> int:
    """Weights that take part in matrix multiplies (embedding lookup excluded, output head included)."""
    d, ffn, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    kv = d * shape["num_key_value_heads"] // shape["num_attention_heads"]
    per_layer = 2 * d * d + 2 * d * kv + 3 * d * ffn
    return layers * per_layer + d * shape["vocab_size"]


def flops_per_token(shape: dict, max_length: int) -> float:
    attention = 12 * shape["num_hidden_layers"] * shape["hidden_size"] * (max_length / 2)
    return 4 * matmul_params(shape) + attention


def measure_peak_tflops(cuda: bool) -> float:
    """bf16 8192^3 matrix multiplies on a GPU (fp32 512^3 on a CPU), best of several."""
    import torch

    n, dtype, device = (8192, torch.bfloat16, "cuda") if cuda else (512, torch.float32, "cpu")
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    best = float("inf")
    for _ in range(3):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        if cuda:
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / 10)
    return 2 * n**3 / best / 1e12


def build_random_model(shape: dict, folder: Path, cuda: bool) -> Path:
    """A random-init LLaMA of the given shape, saved once in bf16 (fp32 on a CPU)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if (folder / "config.json").is_file():
        return folder
    dtype = torch.bfloat16 if cuda else torch.float32
    defaults = dict(max_position_embeddings=8192, tie_word_embeddings=False, eos_token_id=0,
                    bos_token_id=None, pad_token_id=None)
    config = LlamaConfig(**{**defaults, **shape})
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device("cuda" if cuda else "cpu"):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(folder)
    del model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return folder


def training_rows(repeat: int):
    """The shipped sample as prompt/completion pairs, repeated to fill enough packed rows."""
    from datasets import concatenate_datasets

    from course_utils.data import load_alpaca, to_prompt_completion

    pairs = to_prompt_completion(load_alpaca("sample"))
    return concatenate_datasets([pairs] * repeat)


def run_profile(name: str, model_dir: Path, steps: int, warmup: int, changes: dict, tiny: bool,
                shape: dict, peak: float, hw, label: str = "", first_batch: dict | None = None) -> Row:
    """Train ``warmup + steps`` optimizer steps of profile ``name`` through the course's recipe and
    time the last ``steps``. ``changes`` set profile fields or SFTConfig arguments, plus two bench
    switches: ``_warmup`` (untimed steps for this run, e.g. while ``torch_compile`` compiles) and
    ``_lora_input_cast=False`` (peft's LoRA layers stop casting their bf16 input to the adapters'
    fp32; under bf16 autocast the adapter's matmul runs in bf16 either way). When ``first_batch``
    is a dict, the inputs of the first training step are stored in it (for the loss check against
    a plain model)."""
    import torch
    from transformers import TrainerCallback

    from course_utils.models import load_model, load_tokenizer
    from course_utils.profile import TINY_MODEL_DIR, Hardware, get_profile
    from course_utils.recipe import make_trainer, train

    # --tiny asks for the GPU profiles as if a GPU were there, then runs them on the CPU
    chooser = hw if hw.cuda or name == "laptop" else Hardware(True, "CPU stand-in", 80.0, (9, 0))
    profile = get_profile(name, hardware=chooser, env={"COURSE_OUTPUT_DIR": str(model_dir.parent / f"out-{name}")})
    if tiny:
        profile = profile.scaled_down().replace(max_length=256, batch_size=4)
        if name == "gpu":  # no bf16 on a CPU: same recipe in fp32
            profile = profile.replace(precision="fp32")
    changes = dict(changes)
    warmup = changes.pop("_warmup", warmup)
    input_cast = changes.pop("_lora_input_cast", True)
    fields = {k: v for k, v in changes.items() if k in type(profile).__dataclass_fields__}
    trainer_args = {k: v for k, v in changes.items() if k not in fields}  # e.g. torch_compile=True
    profile = profile.replace(model=str(model_dir), max_steps=warmup + steps, logging_steps=1, **fields)

    class Timer(TrainerCallback):
        def __init__(self):
            self.start = self.tokens0 = self.cpu0 = None

        def _begin(self, state):
            if hw.cuda:
                torch.cuda.synchronize()
            self.start, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen
            self.cpu0 = time.process_time()

        def on_train_begin(self, args, state, control, **kwargs):
            if warmup == 0:  # time from the first step (on a slow CPU, where every step counts)
                self._begin(state)

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == warmup:
                self._begin(state)

        def on_train_end(self, args, state, control, **kwargs):
            if hw.cuda:
                torch.cuda.synchronize()
            self.seconds = time.perf_counter() - self.start
            self.cpu_seconds = time.process_time() - self.cpu0
            self.tokens = state.num_input_tokens_seen - self.tokens0

    if hw.cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    tokenizer = load_tokenizer(str(TINY_MODEL_DIR))  # ids < 1,000 fit any vocabulary here
    rows_needed = (warmup + steps) * profile.batch_size * profile.grad_accum
    repeat = max(1, rows_needed * profile.max_length // 15_000 + 1)
    model = load_model(profile, hw)
    trainer = make_trainer(profile, model, tokenizer, training_rows(repeat), None, hw,
                           save_strategy="no", include_num_input_tokens_seen="non_padding",
                           disable_tqdm=True, **trainer_args)
    if not input_cast:
        from peft.tuners.tuners_utils import BaseTunerLayer

        for module in trainer.model.modules():
            if isinstance(module, BaseTunerLayer):
                module.cast_input_dtype_enabled = False  # what peft.helpers.disable_input_dtype_casting sets
    if first_batch is not None:
        compute_loss = trainer.compute_loss

        def recording_compute_loss(model, inputs, *args, **kwargs):
            if not first_batch:
                first_batch.update({k: v.detach().clone() for k, v in inputs.items() if hasattr(v, "detach")})
            return compute_loss(model, inputs, *args, **kwargs)

        trainer.compute_loss = recording_compute_loss
    timer = Timer()
    trainer.add_callback(timer)
    train(trainer)
    peak_gib = torch.cuda.max_memory_allocated() / 2**30 if hw.cuda else None
    import resource

    peak_ram_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    tokens_per_s = timer.tokens / timer.seconds
    tflops = tokens_per_s * flops_per_token(shape, profile.max_length) / 1e12
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    del trainer, model
    gc.collect()
    if hw.cuda:
        torch.cuda.empty_cache()
    batch = f"{profile.batch_size}x{profile.grad_accum}" if profile.grad_accum > 1 else str(profile.batch_size)
    return Row(name, batch, tokens_per_s, tflops, tflops / peak, peak_gib, losses[-1], losses[0],
               label or name, peak_ram_gib=peak_ram_gib,
               tokens_per_cpu_s=None if hw.cuda else timer.tokens / timer.cpu_seconds)


def print_table(rows: list[Row], peak: float, device: str) -> None:
    for r in rows:
        if r.tokens_per_cpu_s and not r.error:  # a shared CPU: wall time depends on the other jobs
            print(f"{r.label or r.profile}: {r.tokens_per_cpu_s:,.1f} tokens per CPU-second of this process "
                  f"(wall: {r.tokens_per_s:,.1f} tokens/s; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    seed = next((r.tokens_per_s for r in rows if r.profile == "seed" and not r.error), None)
    print(f"\ndevice: {device}; matrix-multiply peak measured in this run: {peak:,.1f} TFLOP/s")
    print("| run | batch | tokens/s | model TFLOP/s | share of peak | peak GiB | x seed | first loss | last loss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.error:
            print(f"| {r.label or r.profile} | {r.batch} | failed: {r.error} |||||||")
            continue
        gib = (f"{r.peak_gib:.1f}" if r.peak_gib is not None else
               f"{r.peak_ram_gib:.1f} RAM (CPU)" if r.peak_ram_gib is not None else "n/a (CPU)")
        ratio = f"{r.tokens_per_s / seed:.1f}" if seed else "n/a"
        print(f"| {r.label or r.profile} | {r.batch} | {r.tokens_per_s:,.0f} | {r.tflops:.3g} | "
              f"{r.share_of_peak:.0%} | {gib} | {ratio} | {r.first_loss:.3f} | {r.final_loss:.3f} |")


def parse_changes(items: list[str]) -> dict[str, dict]:
    """``--set gpu:batch_size=8`` -> {"gpu": {"batch_size": 8}} (ints, floats and booleans parsed)."""
    out: dict[str, dict] = {}
    for item in items:
        name, _, assignment = item.partition(":")
        key, _, value = assignment.partition("=")
        parsed: object = value
        for cast in (int, float):
            try:
                parsed = cast(value)
                break
            except ValueError:
                pass
        if value in ("True", "False"):
            parsed = value == "True"
        out.setdefault(name, {})[key] = parsed
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shape on the CPU, a few steps")
    parser.add_argument("--laptop", action="store_true",
                        help="the laptop profile on random weights of SmolLM2-135M's shape, on the CPU")
    parser.add_argument("--profiles", default=None, help="default: seed,colab,gpu (--laptop: laptop)")
    parser.add_argument("--steps", type=int, default=None, help="timed optimizer steps (default 10; tiny 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 3; tiny 1)")
    parser.add_argument("--set", action="append", default=[], metavar="PROFILE:FIELD=VALUE",
                        help="change a profile field (gpu:batch_size=8) or pass an SFTConfig "
                             "argument (gpu:torch_compile=True) for this run")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "course-bench")
    args = parser.parse_args(argv)

    import torch

    from course_utils.profile import Hardware, detect_hardware

    hw = detect_hardware()
    if not hw.cuda and not (args.tiny or args.laptop):
        print("no CUDA GPU: run with --tiny or --laptop (make bench BENCH_ARGS=--tiny), or on a GPU machine",
              file=sys.stderr)
        return 2
    if args.tiny or args.laptop:
        hw = Hardware(cuda=False)
    shape = TINY_SHAPE if args.tiny else laptop_shape() if args.laptop else XGEN_SHAPE
    cpu = args.tiny or args.laptop
    steps = args.steps or (3 if cpu else 10)
    warmup = args.warmup if args.warmup is not None else (1 if cpu else 3)
    changes = parse_changes(args.set)
    folder = "tiny" if args.tiny else "smollm2-135m-shape" if args.laptop else "xgen-7b-shape"
    model_dir = build_random_model(shape, args.workdir / folder, hw.cuda)
    args.profiles = args.profiles or ("laptop" if args.laptop else "seed,colab,gpu")
    peak = measure_peak_tflops(hw.cuda)
    device = f"{hw.name}, {hw.memory_gib:.0f} GiB" if hw.cuda else f"CPU ({os.cpu_count()} cores), torch {torch.__version__}"
    rows = []
    for name in args.profiles.split(","):
        rows.append(run_profile(name, model_dir, steps, warmup, changes.get(name, {}), args.tiny,
                                shape, peak, hw))
        print(rows[-1], flush=True)
    print_table(rows, peak, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
