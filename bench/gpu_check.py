"""The instructor's GPU path, measured in one prepared command (``make gpu-check``).

    python bench/gpu_check.py --phase speed    # the bf16 profile and its speed levers
    python bench/gpu_check.py --phase quant    # the bitsandbytes profiles (seed, colab) + notebooks 04-09
    python bench/gpu_check.py --tiny           # dry run of both phases on a CPU, tiny shapes, seconds

On one GPU it builds a random-init model of XGen-7B's shape once (nothing is downloaded), then:
1. measures a bf16 matrix-multiply peak (8192^3) in the same run;
2. checks the varlen attention (course_utils/attention.py) against transformers' sdpa on packed rows;
3. trains each profile and lever through the course's recipe (bench/train_throughput.run_profile:
   course_utils.models.load_model + course_utils.recipe.make_trainer), timing optimizer steps after
   a warm-up: tokens/s, model TFLOP/s, share of the peak, peak GiB, ratio to the 2024 recipe (seed);
4. checks that the gpu profile's first loss equals a plain bf16 forward of the same batch;
5. (quant phase) executes the code cells of notebooks 04-09 on the ``gpu`` profile with that model.
The phases can run as two calls on one machine (the bitsandbytes wheel is large): the second call
with ``--resume`` adds its rows to the first call's (kept in ``--workdir``) and prints the table of
both. Without ``--resume`` a call starts a fresh table, so no figure of an earlier call slips in.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from train_throughput import (TINY_SHAPE, XGEN_SHAPE, Row, build_random_model,  # noqa: E402
                              measure_peak_tflops, print_table, run_profile)

VARLEN = "course_varlen"
# (label, profile, changes): profile fields (batch_size, lora_dropout, ...), SFTConfig arguments
# (torch_compile, activation_offloading, ...) or the bench's switches (_warmup, _lora_input_cast; see
# train_throughput.run_profile). In the order they are worth a GPU minute (a --budget cuts from the
# end): the default, the 2024 baseline and the T4 profile's memory (the ratio and the colab figure
# need them in the same run), then the levers not measured yet, aimed at the two figures the
# 2026-11-27 H200 run missed (61 % of the matmul peak, not 70 %; 41.1 GiB at batch 8, not <= 40),
# then the rows that run already measured, to repeat them on another card.
#
# Why these levers (from reading peft 0.21 and counting saved tensors on the CPU, not measured on a
# GPU yet): peft keeps the adapters in fp32 under a bf16 model, so each LoRA layer casts its input to
# fp32, applies dropout there, and autocast casts it back to bf16 for the adapter's matmul: per LoRA
# layer and token that is three extra 4,096-wide passes over memory and a saved bf16 copy plus a
# dropout mask. Dropout 0 makes peft's dropout an identity (no mask); with the cast off as well, q's
# and v's adapters share the layer's normed input instead of saving a copy each.
RUNS = [
    ("gpu default: varlen, batch 8", "gpu", {}),
    ("seed (2024 recipe: int8 + k-bit prep)", "seed", {}),
    ("colab (NF4 + checkpointing, defaults)", "colab", {}),
    ("gpu, batch 8, lora_dropout 0", "gpu", {"lora_dropout": 0.0}),
    ("gpu, batch 8, lora_dropout 0, no fp32 input cast", "gpu", {"lora_dropout": 0.0, "_lora_input_cast": False}),
    ("gpu, batch 7", "gpu", {"batch_size": 7}),
    ("gpu, batch 8, activation offloading", "gpu", {"activation_offloading": True}),
    ("gpu, batch 8, lora_dropout 0 + torch.compile", "gpu", {"lora_dropout": 0.0, "torch_compile": True, "_warmup": 4}),  # compiles: last of the new
    ("gpu, varlen, batch 4", "gpu", {"batch_size": 4}),
    ("gpu, sdpa, batch 4 (before)", "gpu", {"attn_implementation": "sdpa", "batch_size": 4}),
    ("gpu, varlen + liger, batch 8", "gpu", {"use_liger_kernel": True}),
    ("gpu, varlen, batch 8, checkpointing", "gpu", {"gradient_checkpointing": True}),
    ("gpu, sdpa, batch 1 x 4", "gpu", {"attn_implementation": "sdpa", "batch_size": 1, "grad_accum": 4}),
    ("colab, batch 1 x 16", "colab", {"batch_size": 1, "grad_accum": 16}),
]
# SFTConfig arguments the CPU dry run cannot take: Liger (a GPU package) and activation offloading
# (trl's offloading asks torch.accelerator for a device, None on a CPU). --tiny leaves them out.
GPU_ONLY = ("use_liger_kernel", "activation_offloading")
# 06-09 first: they train, merge and evaluate on the card; 04-05 only load and wrap
NOTEBOOKS = ["06_training", "07_inference", "08_chat_format", "09_evaluate_and_ship", "04_model_loading",
             "05_lora_config"]


def say(*args) -> None:
    print(*args, flush=True)


def versions() -> str:
    import importlib.metadata as md

    out = []
    for name in ("torch", "transformers", "trl", "peft", "datasets", "pyarrow", "accelerate", "liger-kernel",
                 "bitsandbytes"):
        try:
            out.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            out.append(f"{name} -")
    return ", ".join(out)


def check_varlen(cuda: bool) -> str:
    """Packed logits and gradients with varlen attention vs transformers' sdpa, small random LLaMA."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from course_utils import attention

    if not cuda:
        return "skipped on the CPU (tests/test_attention.py checks the same plumbing with a reference kernel)"
    if not attention.available():
        return f"NOT AVAILABLE in torch {torch.__version__}: the varlen runs fall back to sdpa"
    attention.register()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=1024, hidden_size=512, intermediate_size=1024, num_hidden_layers=2,
                         num_attention_heads=8, num_key_value_heads=8)
    results = {}
    for impl in ("sdpa", VARLEN):
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).to("cuda", torch.bfloat16)
        model.set_attn_implementation(impl)
        torch.manual_seed(1)
        ids = torch.randint(0, 1024, (1, 700), device="cuda")
        pos = torch.cat([torch.arange(n) for n in (300, 250, 150)]).unsqueeze(0).cuda()
        out = model(input_ids=ids, position_ids=pos, labels=ids, use_cache=False)
        out.loss.backward()
        results[impl] = (out.logits.float().detach(), model.model.layers[0].self_attn.q_proj.weight.grad.float())
    (la, ga), (lb, gb) = results["sdpa"], results[VARLEN]
    rel_logits = ((la - lb).norm() / la.norm()).item()
    rel_grad = ((ga - gb).norm() / ga.norm()).item()
    ok = rel_logits < 2e-2 and rel_grad < 5e-2
    return f"{'ok' if ok else 'MISMATCH'}: relative difference logits {rel_logits:.1e}, q_proj gradient {rel_grad:.1e}"


def plain_first_loss(model_dir: Path, batch: dict, cuda: bool) -> float:
    """The loss of the base model on the recipe's first batch, plain transformers in bf16 with sdpa
    (LoRA's B matrices start at zero, so the first step's model is the base model)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if cuda else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa",
                                                 device_map={"": 0} if cuda else None)
    keys = ("input_ids", "position_ids", "labels", "attention_mask")
    inputs = {k: batch[k].to(model.device) for k in keys if k in batch}
    with torch.no_grad():
        loss = model(**inputs, use_cache=False).loss.item()
    del model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return loss


def write_bigger_sample(folder: Path, times: int) -> Path:
    """The shipped sample repeated, so the gpu profile's 500 eval rows fit."""
    src = REPO / "course_utils" / "assets" / "alpaca_sample.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()
    out = folder / "alpaca_sample_x{}.jsonl".format(times)
    out.write_text("\n".join(lines * times) + "\n", encoding="utf-8")
    return out


def run_notebooks(model_dir: Path, workdir: Path, tiny: bool, budget: float | None = None) -> list[str]:
    """Execute the code cells of notebooks 04-09, each in a fresh namespace, on the gpu profile."""
    from run_cells import run_notebook

    env = {"COURSE_PROFILE": "smoke" if tiny else "gpu", "COURSE_MODEL": str(model_dir),
           "COURSE_DATA": str(write_bigger_sample(workdir, 6)), "COURSE_MAX_STEPS": "5",
           "COURSE_OUTPUT_DIR": str(workdir / "notebook-outputs"), "MPLBACKEND": "Agg"}
    lines = []
    began = time.perf_counter()
    for name in NOTEBOOKS:
        if budget is not None and time.perf_counter() - began > budget:
            lines.append(f"{name}: skipped, the --budget is spent")
            continue
        start = time.perf_counter()
        failures = run_notebook(REPO / "notebooks" / f"{name}.ipynb", env)
        seconds = time.perf_counter() - start
        errors = [f for f in failures if "AssertionError" not in f]
        checks = [f for f in failures if "AssertionError" in f]
        status = ("ok" if not failures else "ERRORS: " + "; ".join(errors) if errors else
                  "ran; learning checks not met (random weights): " + "; ".join(checks))
        lines.append(f"{name}: {status} ({seconds:.0f} s)")
        say(lines[-1])
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", choices=("speed", "quant", "all"), default="all")
    parser.add_argument("--tiny", action="store_true", help="CPU dry run: tiny shapes, 2 steps")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run (default 4; tiny 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 2; tiny 1)")
    parser.add_argument("--only", default="", help="labels' prefixes to run, separated by | (default: all)")
    parser.add_argument("--no-notebooks", action="store_true")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds: start no further run after this, so the table is always printed "
                             "(default 300: the default, the baselines and the new levers on an H100/H200)")
    parser.add_argument("--notebook-budget", type=float, default=None,
                        help="seconds for the notebooks: start no further notebook after this")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "course-gpu-check")
    parser.add_argument("--resume", action="store_true",
                        help="add to the results of an earlier call in --workdir (e.g. --phase quant after "
                             "--phase speed) instead of starting a fresh table")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")

    import torch

    from course_utils.profile import TINY_MODEL_DIR, Hardware, detect_hardware

    hw = detect_hardware()
    if not hw.cuda and not args.tiny:
        say("no CUDA GPU: run with --tiny for a dry run on the CPU (make gpu-check GPU_CHECK_ARGS=--tiny)")
        return 2
    if args.tiny:
        hw = Hardware(cuda=False)
        say("dry run: tiny shapes on the CPU, batch 4 where a label says 8, without the GPU-only options")
    cuda = hw.cuda
    shape = TINY_SHAPE if args.tiny else XGEN_SHAPE
    steps = args.steps or (2 if args.tiny else 4)
    warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 2)
    workdir = args.workdir / ("tiny" if args.tiny else "xgen")
    workdir.mkdir(parents=True, exist_ok=True)
    results_file = workdir / "results.json"
    saved = json.loads(results_file.read_text()) if args.resume and results_file.is_file() else {}
    device = f"{hw.name}, {hw.memory_gib:.0f} GiB" if cuda else f"CPU ({os.cpu_count()} cores), dry run"
    say(f"device: {device}\nversions: {versions()}")

    start = time.perf_counter()
    model_dir = build_random_model(shape, workdir / "model", cuda)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(TINY_MODEL_DIR).save_pretrained(model_dir)  # ids < 1,024 fit any shape here
    say(f"random model of shape {shape} in {model_dir} ({time.perf_counter() - start:.0f} s)")
    peak = measure_peak_tflops(cuda)
    saved.setdefault("peaks", []).append(peak)
    say(f"matrix-multiply peak: {peak:,.3g} TFLOP/s")

    wanted = [p.strip() for p in args.only.split("|") if p.strip()]
    runs = [r for r in RUNS if args.phase == "all" or (r[1] == "gpu") == (args.phase == "speed")]
    runs = [r for r in runs if not wanted or any(r[0].startswith(w) for w in wanted)]
    if args.phase in ("speed", "all") and "varlen_check" not in saved:
        saved["varlen_check"] = check_varlen(cuda)
        say("varlen attention vs sdpa:", saved["varlen_check"])
    rows = [Row(**r) for r in saved.get("rows", [])]
    first_batch: dict = {}
    began = time.perf_counter()
    for label, name, changes in runs:
        if args.budget and time.perf_counter() - began > args.budget:
            say(f"{label}: skipped, the --budget of {args.budget:.0f} s is spent")
            continue
        if args.tiny:  # the CPU has no varlen kernel (the profile falls back to sdpa itself) nor Liger
            changes = {k: v for k, v in changes.items() if k not in GPU_ONLY}
        try:
            row = run_profile(name, model_dir, steps, warmup, dict(changes), args.tiny, shape, peak, hw,
                              label=label, first_batch=first_batch if not first_batch else None)
        except Exception as exc:  # one lever failing must not cost the others
            traceback.print_exc()
            row = Row(name, str(changes.get("batch_size", "")), 0, 0, 0, None, float("nan"), label=label,
                      error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}")
        finally:
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
        rows = [r for r in rows if r.label != label] + [row]
        saved["rows"] = [asdict(r) for r in rows]
        results_file.write_text(json.dumps(saved, indent=1))
        if os.environ.get("OUT"):
            Path(os.environ["OUT"], "gpu_check_results.json").write_text(json.dumps(saved, indent=1))
        say(f"{label}: {row.tokens_per_s:,.0f} tokens/s, peak {row.peak_gib} GiB, first/last loss "
            f"{row.first_loss:.4f}/{row.final_loss:.4f} {row.error}")
        if first_batch and "loss_check" not in saved and not row.error:
            plain = plain_first_loss(model_dir, first_batch, cuda)
            rel = abs(plain - row.first_loss) / plain
            saved["loss_check"] = (f"{'ok' if rel < 0.02 else 'MISMATCH'}: first loss through the recipe "
                                   f"{row.first_loss:.4f} ({label}) vs plain bf16 forward {plain:.4f} "
                                   f"(relative difference {rel:.1e})")
            say(saved["loss_check"])
    saved["rows"] = [asdict(r) for r in rows]
    results_file.write_text(json.dumps(saved, indent=1))

    if args.phase in ("quant", "all") and not args.no_notebooks:
        saved["notebooks"] = run_notebooks(model_dir, workdir, args.tiny, args.notebook_budget)
        results_file.write_text(json.dumps(saved, indent=1))

    # same-run comparisons: runs with the same batch size see the same first batch (same data, same seed)
    for batch in sorted({r.batch for r in rows if not r.error}):
        firsts = {r.label: r.first_loss for r in rows if not r.error and r.batch == batch}
        if len(firsts) > 1:
            say(f"\nfirst-step losses of the batch-{batch} runs (same first batch):",
                ", ".join(f"{k}: {v:.4f}" for k, v in firsts.items()))
    say("varlen check:", saved.get("varlen_check", "not run"))
    say("loss check:", saved.get("loss_check", "not run"))
    for line in saved.get("notebooks", []):
        say("notebook", line)
    print_table(rows, max(saved["peaks"]), device + f"; {versions()}")
    say(f"(peaks measured in these calls: {', '.join(f'{p:,.3g}' for p in saved['peaks'])} TFLOP/s; "
        "share of peak uses the highest)")
    out = os.environ.get("OUT")
    if out:
        Path(out, "gpu_check_results.json").write_text(json.dumps(saved, indent=1))
    failed = [r.label for r in rows if r.error]
    if failed and args.tiny:  # on a GPU a lever may fail (out of memory) and is a result; on the CPU, a bug
        say(f"dry run: {len(failed)} run(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
