"""What reaches the learner: figures are image outputs whatever the matplotlib backend, and
messages a learner cannot act on are silenced at their source (narrowly: others still show), lm-eval's
progress bars and hints in notebook 09's harness cell among them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import kernel_execute

REPO = Path(__file__).resolve().parent.parent


def test_each_figure_is_one_png_output_even_with_the_agg_backend(course_kernel, tmp_path):
    client, _ = course_kernel  # a learner's smoke kernel, MPLBACKEND=Agg, shared with test_kernel_errors.py
    code = (
        "from course_utils.plots import (before_after, length_histograms, lora_diagram, loss_curve, lr_schedule,\n"
        "                                sweep_curves, trainable_share)\n"
        f"folder = __import__('pathlib').Path({str(tmp_path)!r})\n"
        "figure = loss_curve([{'step': 1, 'loss': 2.0}, {'step': 2, 'loss': 1.0, 'eval_loss': 1.5}],\n"
        "                    path=folder / 'loss.png')\n"
        "figure = trainable_share(10, 100)\n"
        "figure = before_after({'correct': (0.1, 0.9)})\n"
        "figure = length_histograms([10, 20], [3, 5], 16)\n"
        "figure = lora_diagram(128, 128, 16, 32)\n"
        "figure = lr_schedule([1, 2, 3, 4], [0.0, 0.5, 1.0, 0.5], 2, [(2, 0.5)])\n"
        "figure = sweep_curves({'lr 1': [(0, 2.0), (4, 1.0)]}, 'a title')\n"
    )
    status, messages = kernel_execute(client, code, timeout=300)
    assert status == "ok", messages
    outputs = [m for m in messages if m["msg_type"] in ("stream", "display_data", "execute_result", "error")]
    assert [o["msg_type"] for o in outputs] == ["display_data"] * 7, outputs  # no warning or text either
    assert all("image/png" in o["content"]["data"] for o in outputs)
    assert (tmp_path / "loss.png").stat().st_size > 0


NOISE = """
import warnings
import course_utils
import bitsandbytes  # on CPUs with AVX512-BF16 it logs "No module named 'kernels'"
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                     num_key_value_heads=2, vocab_size=64)
get_peft_model(LlamaForCausalLM(config), LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
warnings.warn("an unrelated FutureWarning still shows", FutureWarning)
import logging
logging.getLogger("bitsandbytes.backends.cpu.ops").warning("an unrelated bitsandbytes message still shows")

# notebook 09's harness run: lm-eval's bars and its two hints stay out, its other messages and later bars do not
import shutil, tempfile
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager
from tqdm import tqdm
from course_utils.evaluate import CAPITALS_TASK, TASKS_DIR
from course_utils.profile import TINY_MODEL_DIR
from course_utils.progress import quiet_harness

with tempfile.TemporaryDirectory() as scratch:
    chat_named = shutil.copytree(TINY_MODEL_DIR, f"{scratch}/tiny-chat")  # lm-eval guesses 'chat' from the name
    with quiet_harness():
        results = simple_evaluate(model="hf", model_args={"pretrained": chat_named}, tasks=[CAPITALS_TASK],
                                  device="cpu", log_samples=False,
                                  task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False))
print("harness acc", results["results"][CAPITALS_TASK]["acc,none"])
logging.getLogger("lm_eval.api.task").warning("an unrelated lm-eval message still shows")
for _ in tqdm(range(3), desc="a bar after the harness still shows"):
    pass
"""


@pytest.mark.slow
def test_noise_a_learner_cannot_act_on_is_silenced_and_nothing_else():
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("PYTHONWARNINGS", None)  # make test ignores warnings; a learner's kernel does not
    env.pop("TQDM_DISABLE", None)  # make test turns every bar off; a learner's kernel does not
    done = subprocess.run([sys.executable, "-c", NOISE], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "No module named 'kernels'" not in done.stderr
    assert "is_gradient_checkpointing" not in done.stderr
    assert "an unrelated FutureWarning still shows" in done.stderr
    assert "an unrelated bitsandbytes message still shows" in done.stderr
    assert "harness acc" in done.stdout  # the harness ran
    for noise in ("Running loglikelihood requests", "Tokenizing inputs", "/12 [", "--metadata", "chat variant"):
        assert noise not in done.stderr, noise
    assert "an unrelated lm-eval message still shows" in done.stderr
    assert "a bar after the harness still shows" in done.stderr
