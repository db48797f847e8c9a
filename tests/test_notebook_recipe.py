"""One recipe, proven equal: notebooks 05 and 06 write their LoraConfig, SFTConfig and SFTTrainer
calls out in cells; the script mirror and the benchmark use ``course_utils.recipe``. These tests run
the notebooks in a real kernel, only up to the cell that builds the object (no training), and compare
the notebook's object with the recipe's, field by field. (Notebook 06 on a GPT-2 model is compared
the same way after its full run, in test_notebooks_other_arch.py.)

The GPU profiles cannot run in a kernel here; there both sides read the same row of
``course_utils.models.PRECISION_TABLE`` (tests/test_recipe.py checks the recipe against it).
"""

import pytest
from conftest import COMPARE_TRAINER_WITH_RECIPE, NOTEBOOKS, run_cells_then

LORA_CHECK = """
import json as _json
from course_utils.recipe import lora_config as _lora_config

_mine, _theirs = config.to_dict(), _lora_config(profile, model).to_dict()
print("RESULT " + _json.dumps({
    "type": type(config).__name__, "fields": len(_mine),
    "diff": {k: [repr(_mine.get(k)), repr(_theirs.get(k))] for k in sorted(set(_mine) | set(_theirs))
             if _mine.get(k) != _theirs.get(k)},
}))
"""


def _env(tmp_path):
    return {"COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(tmp_path / "outputs")}


@pytest.mark.slow
def test_notebook_05_lora_config_is_the_recipes(tmp_path):
    result = run_cells_then(NOTEBOOKS / "05_lora_config.ipynb", _env(tmp_path), LORA_CHECK, upto="config = LoraConfig(")
    assert result["type"] == "LoraConfig" and result["fields"] > 10
    assert result["diff"] == {}, f"notebook 05's LoraConfig differs from course_utils.recipe: {result['diff']}"


@pytest.mark.slow
def test_notebook_06_trainer_is_the_recipes(tmp_path):
    result = run_cells_then(NOTEBOOKS / "06_training.ipynb", _env(tmp_path), COMPARE_TRAINER_WITH_RECIPE,
                            upto="trainer = SFTTrainer(")
    assert result["type"] == "SFTConfig" and result["fields"] > 100
    assert result["args"] == {}, f"notebook 06's SFTConfig differs from course_utils.recipe: {result['args']}"
    assert result["lora"] == {}, f"notebook 06's LoRA config differs from course_utils.recipe: {result['lora']}"
    assert result["trainable"][0] == result["trainable"][1] > 0


@pytest.mark.slow
def test_notebook_08_chat_trainer_is_the_recipes(tmp_path):
    """Notebook 08's SFTConfig is the recipe's chat variant (``--format chat``): assistant_only_loss=True,
    its own checkpoint folder, everything else as 06."""
    result = run_cells_then(NOTEBOOKS / "08_chat_format.ipynb", _env(tmp_path), COMPARE_TRAINER_WITH_RECIPE,
                            upto="trainer = SFTTrainer(")
    assert result["type"] == "SFTConfig" and result["fields"] > 100
    assert result["args"] == {}, f"notebook 08's SFTConfig differs from the recipe's chat variant: {result['args']}"
    assert result["lora"] == {}, f"notebook 08's LoRA config differs from course_utils.recipe: {result['lora']}"
    assert result["trainable"][0] == result["trainable"][1] > 0
