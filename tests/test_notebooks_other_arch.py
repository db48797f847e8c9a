"""Notebooks 04-06 with COURSE_MODEL pointing at a tiny GPT-2: loading, LoRA and training run
on an architecture other than LLaMA (only the tiny model's learning checks are specific), and
notebook 06's trainer still equals the recipe's there (GPT-2 keeps its weights in Conv1D layers).
The three run one after the other in one kernel (each runs alone in a kernel of its own under nbval).

06's learning-rate experiment (three cells: the lab, the three runs, the table) is left out here:
with any model but the tiny one it trains the tiny model on the smoke profile (three runs), which
nbval's smoke run of 06 already executes; nothing in it touches GPT-2, and no later cell reads what it
makes."""

import ast
import json

import pytest

from conftest import COMPARE_TRAINER_WITH_RECIPE, NOTEBOOKS, run_cells_then

EXPERIMENT = ("lab_settings = dict(", "for rate in (", "sweep_curves(")  # 06's learning-rate experiment, one mark per cell


@pytest.mark.slow
def test_gpt2_runs_through_loading_lora_and_training(gpt2_dir, tmp_path):
    env = {"COURSE_PROFILE": "smoke", "COURSE_MODEL": str(gpt2_dir), "COURSE_OUTPUT_DIR": str(tmp_path),
           "COURSE_MAX_STEPS": "4"}
    first = tuple(NOTEBOOKS / f"{name}.ipynb" for name in ("04_model_loading", "05_lora_config"))
    result = run_cells_then(NOTEBOOKS / "06_training.ipynb", env, COMPARE_TRAINER_WITH_RECIPE, skip=EXPERIMENT,
                            before=first)  # 04, 05 and 06 in one kernel: each runs alone under nbval
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert result["args"] == {} and result["lora"] == {}, result


def test_the_experiment_left_out_on_gpt2_uses_the_tiny_model_and_feeds_no_later_cell():
    """What makes leaving the experiment out above safe: on a model other than the tiny one the cell
    trains the tiny model (smoke), and no code cell after it reads its names."""
    cells = ["".join(c["source"]) for c in json.loads((NOTEBOOKS / "06_training.ipynb").read_text())["cells"]
             if c["cell_type"] == "code"]
    at = [[i for i, code in enumerate(cells) if mark in code] for mark in EXPERIMENT]
    assert all(len(found) == 1 for found in at), at
    first, last = at[0][0], at[-1][0]
    assert [found[0] for found in at] == list(range(first, last + 1)), at  # three cells in a row
    experiment = "\n".join(cells[first:last + 1])
    assert "uses_tiny_model" in experiment and "TINY_MODEL_DIR" in experiment
    made_here = _stored(experiment) - set().union(*(_stored(code) for code in cells[:first]))
    read_later = set().union(*(_loaded(code) for code in cells[last + 1:]))
    assert {"lab", "curves", "sweep"} <= made_here  # the names the experiment makes (parsed, not grepped)
    assert not made_here & read_later, made_here & read_later


def _stored(code: str) -> set[str]:
    tree = ast.parse(code)
    return ({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            | {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))})


def _loaded(code: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
