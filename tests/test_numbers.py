"""One set of numbers: the README's time and memory table quotes course_utils.estimate, and no
notebook or README line repeats an old estimate."""

from __future__ import annotations

import json
from pathlib import Path

from course_utils import estimate

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
OLD = ("6.5 M", "~8 min", "~62 min", "~17 min", "tens of minutes", "hours on a T4", "13,449", "1,740 tokens",
       "8-25 min", "13.9 per CPU-second")  # the last two: the laptop estimate from a loaded machine


def test_readme_quotes_the_measured_references():
    for profile, card, ref, tokens in estimate.readme_rows():
        row = next((line for line in README.splitlines()
                    if line.startswith(f"| `{profile}` |") and f"{ref.tokens_per_second:,.0f}" in line), None)
        assert row is not None, f"README has no {profile} row with {ref.tokens_per_second:,.0f} tokens/s"
        assert f"{ref.peak_gib:.1f} GiB" in row, row
        assert f"~{estimate.minutes(tokens, ref):.0f} min" in row, (row, estimate.minutes(tokens, ref))
    assert "~5.6 M tokens" in README and estimate.ALPACA_EPOCH_TOKENS == 5_600_000


def test_no_old_estimates_anywhere():
    texts = {"README.md": README}
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts[path.name] = "\n".join("".join(c["source"]) for c in cells)
    for name, text in texts.items():
        for old in OLD:
            assert old not in text, f"{name} still says {old!r}: quote course_utils.estimate instead"


def test_planned_tokens_count_the_partial_step_of_each_pass():
    """max_steps=60 of 8 rows over 114 packed rows = 4 passes of 15 steps, the 15th with 2 rows:
    4 x 114 rows are read (the trainer's own num_tokens agrees), not 60 x 8 = 480. The smoke profile
    itself sets whole passes (epochs=4), so notebooks 06 and 08 read their data equally often."""
    from datasets import Dataset

    from course_utils.profile import get_profile
    from conftest import CPU

    rows = Dataset.from_dict({"input_ids": [[1] * 10] * 114})
    smoke = get_profile("smoke", hardware=CPU, env={})
    assert (smoke.max_steps, smoke.epochs, smoke.batch_size, smoke.grad_accum) == (-1, 4.0, 8, 1)
    assert estimate.planned_tokens(smoke, rows) == 4 * 114 * 10
    assert estimate.planned_tokens(smoke.replace(max_steps=60), rows) == 4 * 114 * 10
    assert estimate.planned_tokens(smoke.replace(max_steps=17), rows) == (114 + 2 * 8) * 10
    assert estimate.planned_tokens(smoke.replace(epochs=2.0), rows) == 2 * 114 * 10


def test_notebook_04s_h200_record_is_the_bench_file():
    """Notebook 04 (section 5.2, appendix A) reads course_utils/assets/h200_runs.json (shipped, so Colab has it):
    every run's peak and speed must be the ones bench/results/ recorded, and estimate's references
    (README, notebook 06) must be the same runs."""
    record = json.loads((REPO / "course_utils" / "assets" / "h200_runs.json").read_text(encoding="utf-8"))
    source = record["source"].split(":")[0]
    bench = (REPO / source).read_text(encoding="utf-8")
    runs = {r["run"]: r for r in record["runs"]}
    table = [line for line in bench.splitlines() if line.startswith("| ")]
    for name, run in runs.items():
        peak, speed = f"{run['peak GiB']:.1f}", f"{run['tokens/s']:,}"
        in_table = any(f"| {speed} |" in line and f"| {peak} |" in line for line in table)
        in_prose = f"{speed} tokens/s" in bench and f"{peak} GiB" in bench  # the second call, in prose
        assert in_table or in_prose, f"{name}: {speed} tokens/s, {peak} GiB are not in {source}"
    for (profile, batch), ref in estimate._H200.items():
        match = [r for r in runs.values() if (r["tokens/s"], r["peak GiB"]) == (ref.tokens_per_second, ref.peak_gib)]
        assert match, f"estimate's ({profile}, {batch}) reference is not a run of the record"
