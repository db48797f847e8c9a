"""The teaching structure of the notebooks, their exercises and solutions, and the exercise
checkers of ``course_utils.exercises`` (right, wrong and unanswered answers).

Nothing here executes a notebook (``make test`` runs them under nbval); the checker tests use the
shipped tiny model and tokenizer, and a stand-in trainer, so the whole file takes seconds.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from course_utils import exercises

REPO = Path(__file__).resolve().parent.parent
COURSE = sorted((REPO / "notebooks").glob("0*.ipynb"))
WITH_EXERCISES = COURSE  # every notebook, the install included (issue 17: 01 builds its two hardware decisions)
CHECKERS = sorted(name for name, f in inspect.getmembers(exercises, inspect.isfunction)
                  if name.startswith("check_") and f.__module__.startswith(exercises.__name__ + "."))
CALL = re.compile(r"\b(check_\w+)\s*\(")


def _cells(path: Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in nb["cells"]]


def _called(source: str) -> set[str]:
    return set(CALL.findall(source)) & set(CHECKERS)


def _solutions(path: Path) -> Path:
    return REPO / "solutions" / f"{path.name[:2]}_solutions.ipynb"


# --- every notebook: the blocks a learner relies on ---------------------------------------------

def test_the_course_has_its_notebooks():
    assert len(COURSE) >= 8 and len(WITH_EXERCISES) == len(COURSE)


@pytest.mark.parametrize("path", COURSE, ids=[p.stem for p in COURSE])
def test_notebook_has_the_teaching_blocks(path):
    cells = _cells(path)
    markdown = "\n".join(src for kind, src in cells if kind == "markdown")
    assert cells[0][0] == "markdown" and cells[0][1].startswith("# "), "the first cell is the title"
    assert "What you will learn" in markdown
    assert "**Time:**" in markdown and "**Hardware:**" in markdown
    assert re.search(r"^## Recap", markdown, flags=re.M), "a Recap section"
    assert "What's next" in markdown


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_notebook_has_exercises_before_the_recap(path):
    cells = _cells(path)
    start = next(i for i, (k, s) in enumerate(cells) if k == "markdown" and s.startswith("## Exercises"))
    recap = next(i for i, (k, s) in enumerate(cells) if k == "markdown" and s.startswith("## Recap"))
    exercise_cells = [i for i, (k, s) in enumerate(cells) if k == "code" and _called(s)]
    assert len(exercise_cells) >= 2, "at least two exercises"
    assert all(start < i < recap for i in exercise_cells), "exercises sit in their section, before the Recap"
    for i in exercise_cells:
        source = cells[i][1]
        assert "from course_utils.exercises import" in source or any(
            "from course_utils.exercises import" in s for _, s in cells[start:i]), "checkers come from course_utils.exercises"
        assert re.search(r"^answer = None\b", source, flags=re.M), "shipped unanswered, for the learner to fill"
    assert f"solutions/{path.name[:2]}_solutions.ipynb" in cells[start][1], "the section links its solutions"


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_solutions_call_and_assert_every_checker(path):
    solutions = _solutions(path)
    assert solutions.is_file(), f"{solutions.relative_to(REPO)} is missing"
    used = set().union(*(_called(s) for k, s in _cells(path) if k == "code"))
    code = "\n".join(s for k, s in _cells(solutions) if k == "code")
    asserted = set(re.findall(r"^assert (check_\w+)\(", code, flags=re.M))
    assert used <= asserted, f"solutions must assert every checker of the notebook: missing {used - asserted}"
    nb = json.loads(solutions.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, "stored without outputs"


def test_every_checker_is_used_and_names_its_notebook():
    used = set().union(*(_called(s) for p in WITH_EXERCISES for k, s in _cells(p) if k == "code"))
    assert used == set(CHECKERS), f"checkers no notebook uses: {set(CHECKERS) - used}"
    for name in CHECKERS:
        doc = getattr(exercises, name).__doc__ or ""
        number = re.search(r"Notebook (0[1-9])", doc)
        assert number, f"{name}'s docstring names the notebook that uses it"
        notebook = next(p for p in WITH_EXERCISES if p.name.startswith(number.group(1)))
        assert any(name in _called(s) for _, s in _cells(notebook)), f"{name} is not used in {notebook.name}"


def _asks_for(path: Path) -> list[str]:
    """What each exercise of a notebook asks for, from its checker's ``asks_for``: "code" or "number"."""
    return [getattr(exercises, name).asks_for for kind, source in _cells(path) if kind == "code"
            for name in sorted(_called(source))]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_exercises_ask_for_code_more_often_than_for_numbers(path):
    """Issue 17: at least one exercise where the learner writes code, at most one that only asks for a number."""
    kinds = _asks_for(path)
    assert kinds.count("code") >= 1, f"{path.name}: no exercise where the learner writes code"
    assert kinds.count("number") <= 1, f"{path.name}: {kinds.count('number')} number-only exercises (at most one)"


# --- the checkers: right, wrong, unanswered ------------------------------------------------------

class Objects:
    """The course objects the checkers need, built once and only when a test asks."""

    @cached_property
    def tokenizer(self):
        from course_utils.models import load_tokenizer
        from course_utils.profile import TINY_MODEL_DIR

        return load_tokenizer(str(TINY_MODEL_DIR))

    @cached_property
    def model(self):
        from course_utils import get_profile
        from course_utils.models import load_model

        return load_model(get_profile("smoke", env={}))

    @cached_property
    def generation(self) -> tuple:
        """check_generation's right and wrong answers: two greedy 160-token generations, made once
        for the five checker tests (the checker itself still generates its own truth each time)."""
        from course_utils.data import format_prompt
        from course_utils.inference import generate_answers

        # the tiny base model never saw the template: it writes a paragraph (~100 tokens), then EOS
        instruction, word, n = "Give the opposite of the word.", "hot", 160
        right = generate_answers(self.model, self.tokenizer, [format_prompt(instruction, word)], n)[0]
        wrong = generate_answers(self.model, self.tokenizer, [format_prompt(instruction)], n)[0]
        return instruction, word, n, right, wrong

    def trainer(self, rows: int = 45, max_steps: int = -1, epochs: float = 2) -> Any:
        """A stand-in trainer: real ``TrainingArguments`` (batch 4, accumulation 2, warm-up 0.1)
        and a packed-looking dataset; the checkers only read ``args`` and ``train_dataset``."""
        from transformers import TrainingArguments

        args = TrainingArguments(output_dir="unused", per_device_train_batch_size=4,
                                 gradient_accumulation_steps=2, warmup_steps=0.1, max_steps=max_steps,
                                 num_train_epochs=epochs, use_cpu=True, report_to="none")
        data = [{"input_ids": [1, 2, 3, 4], "labels": [-100, -100, 3, 4]},
                {"input_ids": [1, 2, 3, 4, 5, 6], "labels": [-100, 2, 3, 4, 5, -100]}]
        return SimpleNamespace(args=args, train_dataset=[data[i % 2] for i in range(rows)])


@pytest.fixture(scope="module")
def objects() -> Objects:
    return Objects()


@dataclass
class Case:
    right: Any
    wrong: Any
    hint: str  # words the hint for `wrong` must contain
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def _lengths(tokenizer, texts):
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts]


TEXTS = ["Hi.", "The capital of France is Paris.", "One two three four five six seven eight nine ten.",
         "A much longer text, " * 12]


def _prompt_case(o: Objects) -> Case:
    from course_utils.data import PROMPT_NO_INPUT, PROMPT_WITH_INPUT

    row = {"instruction": "Classify the animal.", "input": "penguin", "output": "A bird."}
    return Case(PROMPT_WITH_INPUT.format(instruction=row["instruction"], input=row["input"]),
                PROMPT_NO_INPUT.format(instruction=row["instruction"]), "'### Input:'", (row,))


def _common_case(o: Objects) -> Case:
    data = {"instruction": ["Add.", "Sort.", "Add.", "Add.", "Sort."]}
    return Case(("Add.", 3), ("Sort.", 2), "appears more often", (data,))


def _unique_case(o: Objects) -> Case:
    """Two rows repeat a prompt; one shares only the instruction (another input: a different prompt)."""
    from datasets import Dataset

    data = Dataset.from_dict({"instruction": ["Add.", "Sort.", "Add.", "Sort.", "Add."],
                              "input": ["1 2", "b a", "1 2", "c d", "3 4"],
                              "output": ["3", "a b", "three", "c d", "7"]})
    return Case(data.select([0, 1, 3, 4]), data.select([0, 1]), "another input", (data,))


def _short_case(o: Objects) -> Case:
    """Alpaca's prompt without its opening sentence; the wrong one forgets the input."""
    from datasets import Dataset

    data = Dataset.from_dict({"instruction": ["Give the opposite of the word.", "Name a colour."],
                              "input": ["big", ""], "output": ["Small.", "Blue."]})

    def short(instruction, input=""):
        middle = f"### Input:\n{input}\n\n" if input.strip() else ""
        return f"### Instruction:\n{instruction}\n\n{middle}### Response:\n"

    return Case(short, lambda instruction, input="": short(instruction), "put it into the prompt too",
                (data, o.tokenizer, 256))


def _smallest_case(o: Objects) -> Case:
    """A function that counts rows (with a tolerance for 1 - keep), and np.percentile, which interpolates."""
    import numpy as np

    def smallest(lengths, keep):
        ordered = np.sort(np.asarray(lengths))
        return int(ordered[len(ordered) - 1 - math.floor(len(ordered) * (1 - keep) + 1e-9)])

    return Case(smallest, lambda lengths, keep: np.percentile(lengths, 100 * keep), "np.percentile",
                (TEXTS * 3, o.tokenizer))


def _memory(n, trainable, per_token, tokens, weight_bytes=2):
    return (weight_bytes * n + 16 * trainable + tokens * per_token) / 2**30


def _mask_case(o: Objects) -> Case:
    """Three examples packed in two rows (two, then one), as trl packs them; no collator: the dataset's labels."""
    from datasets import Dataset

    tok = o.tokenizer
    examples = [{"prompt": f"### Instruction:\n{q}\n\n### Response:\n", "completion": a}
                for q, a in [("Say hi.", "Hi."), ("Name a colour.", "Blue."), ("Count to three.", "One, two, three.")]]

    def mask_example(example):
        prompt = tok(example["prompt"], add_special_tokens=False)["input_ids"]
        ids = tok(example["prompt"] + example["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        return ids, [-100] * len(prompt) + ids[len(prompt):]

    (a, la), (b, lb), (c, lc) = (mask_example(e) for e in examples)
    rows = [{"input_ids": a + b, "labels": la + lb, "seq_lengths": [len(a), len(b)]},
            {"input_ids": c, "labels": lc, "seq_lengths": [len(c)]}]
    trainer = SimpleNamespace(args=SimpleNamespace(max_length=256), train_dataset=Dataset.from_list(rows))
    return Case(mask_example, lambda e: (mask_example(e)[0], mask_example(e)[0]), "label -100", (trainer, examples))


def _rate(lr: float, warmup: int, total: int):
    """The linear schedule with warm-up, step s (1-based) at the factor of s - 1."""
    def rate_at(step):
        k = step - 1
        return lr * (k / warmup if k < warmup else max(0.0, (total - k) / (total - warmup)))
    return rate_at


def _scale_case(o: Objects) -> Case:
    return Case(lambda c: c.lora_alpha / (math.sqrt(c.r) if c.use_rslora else c.r), lambda c: c.lora_alpha / c.r,
                "square root", (_lora_config(),))


def _filter_case(o: Objects) -> Case:
    from datasets import Dataset

    data = Dataset.from_dict({"text": TEXTS})
    limit = sorted(_lengths(o.tokenizer, TEXTS))[1]
    fits = data.filter(lambda row: _lengths(o.tokenizer, [row["text"]])[0] <= limit)
    too_long = data.filter(lambda row: _lengths(o.tokenizer, [row["text"]])[0] > limit)
    return Case(fits, too_long, "too long", (data, o.tokenizer, limit))


def _bytes_case(o: Objects) -> Case:
    n = sum(p.numel() for p in o.model.parameters())
    return Case((2 * n, n / 2), (4 * n, n / 2), "float32", (o.model,))


def _ids_case(o: Objects) -> Case:
    text = "The capital of Peru is Lima."
    ids = o.tokenizer(text, add_special_tokens=False)["input_ids"]
    return Case(ids + [o.tokenizer.eos_token_id], ids, "appends the EOS", (o.tokenizer, text))


def _lora_case(o: Objects) -> Case:
    layers = [m for name, m in o.model.named_modules() if name.endswith(("q_proj", "v_proj"))]
    count = sum(8 * (m.in_features + m.out_features) for m in layers)
    return Case(count, 2 * count, "r=16", (o.model,), {"r": 8, "targets": "attention"})


def _lora_config(r: int = 16, alpha: int = 32):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, task_type="CAUSAL_LM")


def _forward_case(o: Objects) -> Case:
    """One LoRA layer with B made non-zero: the right output, and W x alone (adapter forgotten)."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(copy.deepcopy(o.model), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))
    layer = next(m for m in model.modules() if hasattr(m, "lora_A") and "default" in m.lora_A)
    torch.manual_seed(0)
    with torch.no_grad():
        torch.nn.init.normal_(layer.lora_B["default"].weight, std=0.1)
    x = torch.randn(3, layer.in_features)
    w, a, b = layer.base_layer.weight, layer.lora_A["default"].weight, layer.lora_B["default"].weight
    with torch.no_grad():
        right = x @ w.T + (8 / 4) * (x @ a.T @ b.T)
        wrong = x @ w.T
    return Case(right, wrong, "adapter's path", (layer, x))


def _lora_linear_classes() -> dict[str, type]:
    """Notebook 05, exercise 5: the worked LoRALinear, and variants with one slip each."""
    import torch

    class LoRALinear(torch.nn.Module):
        def __init__(self, base, r, alpha, dropout=0.0):
            super().__init__()
            self.base = base.requires_grad_(False)
            self.A = torch.nn.Linear(base.in_features, r, bias=False)
            self.B = torch.nn.Linear(r, base.out_features, bias=False)
            torch.nn.init.zeros_(self.B.weight)
            self.dropout = torch.nn.Dropout(dropout)
            self.scaling = alpha / r

        def forward(self, x):
            return self.base(x) + self.scaling * self.B(self.A(self.dropout(x)))

    class NoScaling(LoRALinear):
        def forward(self, x):
            return self.base(x) + self.B(self.A(self.dropout(x)))

    class DropoutOnBase(LoRALinear):
        def forward(self, x):
            x = self.dropout(x)
            return self.base(x) + self.scaling * self.B(self.A(x))

    class NotFrozen(LoRALinear):
        def __init__(self, base, r, alpha, dropout=0.0):
            super().__init__(base, r, alpha, dropout)
            base.requires_grad_(True)

    class RandomB(LoRALinear):
        def __init__(self, base, r, alpha, dropout=0.0):
            super().__init__(base, r, alpha, dropout)
            torch.nn.init.normal_(self.B.weight)

    return {"right": LoRALinear, "no scaling": NoScaling, "dropout on base": DropoutOnBase,
            "not frozen": NotFrozen, "random B": RandomB}


def _lora_linear_case(o: Objects) -> Case:
    classes = _lora_linear_classes()
    return Case(classes["right"], classes["no scaling"], "multiplied by alpha / r", (_lora_config(),))


@pytest.mark.parametrize("slip, hint", [("dropout on base", "the adapter's input only"),
                                        ("not frozen", "freeze it"), ("random B", "set B's weight to zeros")])
def test_lora_linear_checker_names_each_slip(slip, hint, capsys):
    assert exercises.check_lora_linear(_lora_linear_classes()[slip], _lora_config()) is False
    assert hint in capsys.readouterr().out.split("Hint: ", 1)[1]


def _score_answers():
    from course_utils.inference import Answer

    answers = [Answer("The capital is Lima.", True, 5), Answer("lima", True, 2),
               Answer("Lima. ### Instruction:", False, 24), Answer("Quito.", True, 3),
               Answer("Limaville.", True, 3)]  # whole words: not Lima
    return answers, ["Lima"] * 5


def _generation_case(o: Objects) -> Case:
    instruction, word, n, right, wrong = o.generation
    assert right.stopped_at_eos, "the tiny base model ends its paragraph with EOS"
    return Case(right, wrong, "lost the input", (o.model, o.tokenizer, instruction, word), {"max_new_tokens": n})


def _top_p_case(o: Objects) -> Case:
    """Scores of 1,000 tokens: the right mask keeps the token that reaches p, the wrong one stops before it."""
    import torch

    def mask(extra: int) -> Callable[..., Any]:
        def top_p_mask(scores, p):
            p_sorted, order = torch.softmax(scores, dim=-1).sort(descending=True)
            kept = torch.zeros_like(scores, dtype=torch.bool)
            kept[order[:int((p_sorted.cumsum(0) < p).sum()) + extra]] = True
            return kept
        return top_p_mask

    scores = torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 3
    return Case(mask(1), mask(0), "the token that brings the sum to p", (scores,))


def _bnb_case(o: Objects) -> Case:
    import torch
    from transformers import BitsAndBytesConfig

    def config(double: bool) -> Any:
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_use_double_quant=double, bnb_4bit_compute_dtype=torch.bfloat16)

    return Case(config(True), config(False), "bnb_4bit_use_double_quant=True", (),
                {"compute_dtype": torch.bfloat16})


def _all_linear_case(o: Objects) -> Case:
    from peft import LoraConfig

    head = o.model.get_output_embeddings()
    count = sum(8 * (m.in_features + m.out_features) for m in o.model.modules()
                if type(m).__name__ == "Linear" and m is not head)
    right = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    wrong = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    return Case((right, count), (wrong, count), "asks for r=8", (o.model,), {"r": 8})


def _unpacked_case(o: Objects) -> Case:
    """Five unpacked rows of 3, 5, 4, 4, 2 tokens in batches of 2: (3, 5) pads 2 of 10 tokens,
    (4, 4) none of 8, (2) none of 2, so 2 of 20 tokens are padding."""
    def trainer(packing: bool, lengths: list[int]) -> Any:
        args = SimpleNamespace(packing=packing, max_length=8, per_device_train_batch_size=2)
        return SimpleNamespace(args=args, train_dataset=[{"input_ids": [1] * n} for n in lengths])

    mine = trainer(False, [3, 5, 4, 4, 2])
    return Case((mine, 5, 0.1), (mine, 5, 0.9), "real tokens", (trainer(True, [8, 8, 2]),))


OWN_TEMPLATE = (  # notebook 08, exercise 1: other headers, the same rules
    "{%- for message in messages %}{{ '<' + message['role'] + '>\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- generation %}{{ message['content'] + eos_token }}{%- endgeneration %}{{ '\\n' }}"
    "{%- else %}{{ message['content'] + '\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<assistant>\\n' }}{%- endif %}"
)


def _dtype_case(o: Objects) -> Case:
    import torch

    from course_utils.profile import Hardware

    def compute_dtype(capability):
        return torch.float32 if capability is None else torch.bfloat16 if capability >= (8, 0) else torch.float16

    return Case(compute_dtype, lambda c: torch.float32 if c is None else torch.bfloat16, "a T4 is 7.5",
                (Hardware(cuda=False),))


def _fits_case(o: Objects) -> Case:
    sizes = {"fp32": 4, "bf16": 2, "int8": 1, "nf4": 0.5}

    def fits(share):
        return lambda n, memory: [f for f, size in sizes.items() if n * size <= share * memory * 2**30]

    return Case(fits(0.8), fits(1.0), "at most 0.8 * memory_gib", (), {"memory_gib": 24.0})


def _decode_case(o: Objects) -> Case:
    def decode(exponent_bits, mantissa_bits):
        def read(bits):
            exponent = (bits >> mantissa_bits) & (2**exponent_bits - 1)
            mantissa = bits & (2**mantissa_bits - 1)
            bias = 2 ** (exponent_bits - 1) - 1
            return (-1) ** (bits >> 15) * 2.0 ** (exponent - bias) * (1 + mantissa / 2**mantissa_bits)
        return read

    return Case(decode(5, 10), decode(8, 7), "5 exponent bits")  # the wrong one reads the bits as bf16


CASES: dict[str, Callable[[Objects], Case]] = {
    "check_compute_dtype": _dtype_case,
    "check_decode_fp16": _decode_case,
    "check_formats_that_fit": _fits_case,
    "check_bnb_4bit_config": _bnb_case,
    "check_lora_all_linear": _all_linear_case,
    "check_unpacked_rows": _unpacked_case,
    "check_prompt": _prompt_case,
    "check_most_common_instruction": _common_case,
    "check_unique_prompts": _unique_case,
    "check_short_template": _short_case,
    "check_smallest_max_length": _smallest_case,
    "check_fits_filter": _filter_case,
    "check_weight_bytes": _bytes_case,
    # 7e9 weights, 40e6 adapters, 3.5 MiB per token, 4,096 tokens; the wrong one forgets the activations
    "check_memory_row": lambda o: Case(_memory, lambda n, t, a, k, weight_bytes=2: _memory(n, t, a, 0, weight_bytes),
                                       "activations are missing", (int(7e9), int(40e6), 3.5 * 2**20, 4096)),
    "check_completion_ids": _ids_case,
    "check_lora_trainable": _lora_case,
    "check_lora_scale": _scale_case,
    "check_lora_forward": _forward_case,
    "check_lora_linear": _lora_linear_case,  # right: the worked class; wrong: no alpha / r on the adapter's path
    # 45 rows at notebook 06's 5 x 2 rows per step: 9 batches, 5 steps per epoch; the wrong one rounds down
    "check_steps_per_epoch": lambda o: Case(5, 4, "round up", (o.trainer(),), {"batch_size": 5, "grad_accum": 2}),
    "check_completion_mask": _mask_case,
    # learning rate 5e-5 (TrainingArguments' default), 12 steps, warm-up ceil(1.2) = 2; the wrong one floors it
    "check_lr_schedule": lambda o: Case(_rate(5e-5, 2, 12), _rate(5e-5, 1, 12), "rounds the warm-up up", (o.trainer(),)),
    "check_score": lambda o: Case(0.4, 0.8, "max_new_tokens", _score_answers()),
    "check_generation": _generation_case,
    "check_top_p": _top_p_case,
    "check_own_template": lambda o: Case(OWN_TEMPLATE, OWN_TEMPLATE.replace("{{ message['content'] + '\\n' }}",
                                         "{%- generation %}{{ message['content'] + '\\n' }}{%- endgeneration %}"),
                                         "assistant's turn only", (o.tokenizer,)),
    "check_fixed_template": lambda o: Case(exercises.nb08.CHAT_TEMPLATE, exercises.suspect_template(),
                                           "is the EOS green", (o.tokenizer,)),
    "check_read_score": lambda o: Case(__import__("course_utils.evaluate").evaluate.parse_score,
                                       lambda reply: 7 if "7" in reply else __import__("course_utils.evaluate").evaluate.parse_score(reply),
                                       "not a score on this scale"),
    "check_spearman": lambda o: Case(0.5, 0.8, "rank", ([1, 2, 3], [1, 3, 2])),
    "check_word_perplexity": lambda o: _word_perplexity_case(o),
    # right: the last words after normalise; wrong: the raw last words ("Lima." is not "Lima")
    "check_last_word_match": lambda o: Case(
        _last_word_match,
        lambda a, r: bool(a.split()) and a.split()[-1] == r.split()[-1], "normalise(",
        ({"fine-tuned": ["A snake is a reptile.", "The capital of Peru is Lima."]},
         ["A lizard is a reptile.", "The capital of Peru is Lima."])),
}


def _last_word_match(answer: str, reference: str) -> bool:
    """Notebook 09, exercise 4's rule: the last words agree after normalise (an answer with no word matches nothing)."""
    from course_utils.evaluate import normalise

    words = normalise(answer).split()
    return bool(words) and words[-1:] == normalise(reference).split()[-1:]


def _word_perplexity_case(o: Objects) -> Case:
    """Notebook 09, exercise 3: the total loss of the scored tokens (all but each text's first), per word."""
    import math
    import re

    def right(mean_loss, texts):
        scored = sum(len(ids) - 1 for ids in o.tokenizer(texts)["input_ids"])
        return math.exp(mean_loss * scored / sum(len(re.split(r"\s+", t)) for t in texts))

    def every_token(mean_loss, texts):  # counts each text's first token too, which text_loss does not score
        scored = sum(len(ids) for ids in o.tokenizer(texts)["input_ids"])
        return math.exp(mean_loss * scored / sum(len(re.split(r"\s+", t)) for t in texts))

    texts = ["The capital of Peru is Lima.", "Cats and dogs are mammals."]
    return Case(right, every_token, "len(ids) - 1", ({"base": 0.7, "fine-tuned": 1.0}, texts, o.tokenizer))


def test_every_checker_has_unit_tests():
    assert set(CASES) == set(CHECKERS)


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_says_right(name, objects, capsys):
    case = CASES[name](objects)
    assert getattr(exercises, name)(case.right, *case.args, **case.kwargs) is True
    assert capsys.readouterr().out.startswith("✓ right: ")


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_says_wrong_with_a_hint(name, objects, capsys):
    case = CASES[name](objects)
    assert getattr(exercises, name)(case.wrong, *case.args, **case.kwargs) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ not yet: ") and "Hint: " in out
    assert case.hint in out.split("Hint: ", 1)[1], out


@pytest.mark.parametrize("name", CHECKERS)
def _numbers_only(answer: Any) -> bool:
    """A number, or a tuple of numbers (and labels): what a number-only exercise asks for."""
    import numbers

    def number(x: Any) -> bool:
        return isinstance(x, numbers.Real) and not isinstance(x, bool)

    return number(answer) or (isinstance(answer, tuple) and any(number(x) for x in answer)
                              and all(number(x) or isinstance(x, str) for x in answer))


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_says_what_it_asks_for(name, objects):
    """``asks_for`` is "number" exactly when the right answer is a number (or a tuple of them), so the
    count above cannot be argued away by a label."""
    kind = getattr(getattr(exercises, name), "asks_for", None)
    assert kind in ("code", "number"), f"{name}: mark it with @asks_for('code') or @asks_for('number')"
    assert (kind == "number") == _numbers_only(CASES[name](objects).right), f"{name} is marked {kind!r}"


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_waits_for_an_answer(name, objects, capsys):
    case = CASES[name](objects)
    for empty in (None, ...):
        assert getattr(exercises, name)(empty, *case.args, **case.kwargs) is False
        assert capsys.readouterr().out.startswith("not answered yet — ")


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_never_raises_on_an_odd_answer(name, objects, capsys):
    case = CASES[name](objects)
    for odd in (object(), "text", float("nan"), [None, 1]):
        assert getattr(exercises, name)(odd, *case.args, **case.kwargs) is False
    assert "Traceback" not in capsys.readouterr().out


def test_unanswered_pair_is_not_answered(objects, capsys):
    assert exercises.check_weight_bytes((None, None), objects.model) is False
    assert capsys.readouterr().out.startswith("not answered yet")


@pytest.mark.parametrize("targets", ["attention", "all-linear"])
def test_lora_count_agrees_with_peft(objects, targets, capsys):
    """The checker's arithmetic is peft's count, on a plain model and on one peft already wrapped
    (notebook 05 calls get_peft_model before its exercises)."""
    import copy

    from peft import LoraConfig, get_peft_model

    from course_utils.models import parameter_count
    from course_utils.recipe import lora_target_modules

    model = copy.deepcopy(objects.model)
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=lora_target_modules(model, targets)))
    expected = parameter_count(peft_model, trainable_only=True)
    assert exercises.check_lora_trainable(expected, objects.model, r=8, targets=targets)
    already_wrapped = copy.deepcopy(objects.model)
    get_peft_model(already_wrapped, LoraConfig(r=16, target_modules="all-linear"))
    assert exercises.check_lora_trainable(expected, already_wrapped, r=8, targets=targets)


def test_steps_and_schedule_follow_max_steps(objects, capsys):
    trainer = objects.trainer(max_steps=30)
    assert exercises.check_lr_schedule(_rate(5e-5, 3, 30), trainer)  # warm-up ceil(0.1 * 30)
    assert not exercises.check_lr_schedule(_rate(5e-5, 2, 12), trainer)  # the epochs' steps: a hint about max_steps
    assert "max_steps=30" in capsys.readouterr().out
    assert exercises.check_steps_per_epoch(math.ceil(45 / 8), trainer)


def test_steps_per_epoch_hints_at_other_settings(objects, capsys):
    """Notebook 06 asks for 5 x 2 rows per step, not the run's 4 x 2 (45 rows): the common slips get their hint."""
    trainer = objects.trainer()
    assert exercises.check_steps_per_epoch(5, trainer, batch_size=5, grad_accum=2)  # ceil(45 / 10)
    for wrong, hint in ((9, "gradient accumulation"), (6, "the run's own count")):  # ceil(45 / 5); ceil(45 / 8)
        capsys.readouterr()
        assert not exercises.check_steps_per_epoch(wrong, trainer, batch_size=5, grad_accum=2)
        assert hint in capsys.readouterr().out


def test_lora_count_agrees_with_peft_on_gpt2(gpt2_dir, capsys):
    """GPT-2 keeps its weights in Conv1D layers (shape in x out): the count still matches peft."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from course_utils.models import parameter_count
    from course_utils.recipe import lora_target_modules

    for targets in ("attention", "all-linear"):
        model = AutoModelForCausalLM.from_pretrained(gpt2_dir)
        names = lora_target_modules(model, targets)
        expected = parameter_count(get_peft_model(AutoModelForCausalLM.from_pretrained(gpt2_dir),
                                                  LoraConfig(r=4, target_modules=names)), trainable_only=True)
        assert exercises.check_lora_trainable(expected, model, r=4, targets=targets), capsys.readouterr().out


# --- the calls the course teaches are written in the notebooks' code cells ----------------------

TAUGHT_CALLS = {
    "02": ["load_dataset(", "data_files=", 'split="train"', "validate_alpaca("],
    "03": ["dataset.map(", "tokenizer(batch[", "batched=True", "np.array(", ".describe("],
    "04": ["AutoTokenizer.from_pretrained(", "load_xgen_tokenizer()", "tokenizer.pad_token = tokenizer.eos_token",
           "BitsAndBytesConfig(", "AutoModelForCausalLM.from_pretrained(", "dtype=", "quantization_config=",
           "device_map="],
    "05": ["LoraConfig(", "r=", "lora_alpha=", "lora_dropout=", "target_modules=", "task_type=",
           "get_peft_model("],
    "06": ["SFTConfig(", "SFTTrainer(", "model=", "args=", "train_dataset=", "eval_dataset=",
           "processing_class=", "peft_config=", "trainer.train(", "save_pretrained(",
           "prepare_model_for_kbit_training("],
    "07": ["PeftModel.from_pretrained(", "return_tensors=", ".generate(", "do_sample=False",
           "eos_token_id=", "pad_token_id=", "disable_adapter()", "merge_and_unload()", "save_pretrained("],
    "08": ['"role": "user"', "tokenizer.chat_template = ", "{%- generation %}", "apply_chat_template(",
           "add_generation_prompt=True", "resize_token_embeddings(", "trainable_token_indices=", "modules_to_save=",
           "sft_config(", "assistant_only_loss=True", "SFTTrainer(", "save_pretrained(", ".generate("],
    "09": ["PeftModel.from_pretrained(", "disable_adapter()", "simple_evaluate(", "TaskManager(", "include_path=",
           '"peft"', "spearmanr(", "merge_and_unload()", "save_pretrained(", "create_repo(", "private=True",
           "upload_folder(", "served(", "OpenAI(", "client.completions.create(", "client.chat.completions.create("],
}


@pytest.mark.parametrize("number", sorted(TAUGHT_CALLS))
def test_code_cells_write_out_the_taught_calls(number):
    path = next(p for p in COURSE if p.name.startswith(number))
    cells = _cells(path)
    start = next((i for i, (k, s) in enumerate(cells) if k == "markdown" and s.startswith("## Exercises")), len(cells))
    code = "\n".join(s for k, s in cells[:start] if k == "code")  # the lesson, not the exercises
    missing = [call for call in TAUGHT_CALLS[number] if call not in code]
    assert not missing, f"{path.name}'s code cells do not write out {missing}"


# --- the course's checks sit in the cells, before (or after) the call they guard ----------------

# (check, call): the check's text comes before the call's first appearance in the lesson's code;
# call None: the check only has to be there.
GUARDS = {
    # 02: the profile's data is loaded under the guard; the plain call on the shipped sample needs none
    "02": [("with alpaca_source(profile.data) as (path, data_files, csv_options):", "raw = load_dataset("),
           ("validate_alpaca(raw, data_files or path)", None)],
    "03": [("warn_if_cut(tokens, profile.max_length)", None)],
    "04": [('with model_load_errors(profile.model, check="tokenizer"):', "tokenizer = AutoTokenizer.from_pretrained("),
           ('with model_load_errors(profile.model, check="model"):', "model = AutoModelForCausalLM.from_pretrained("),
           ("AutoModelForCausalLM.from_pretrained(", "check_model(model, tokenizer, profile.max_length)"),
           ("check_pad_token(tokenizer)", None)],
    "06": [("check_training_rows(tokenizer, train_data, profile.max_length)", "trainer.train("),
           ("with training_run(trainer, profile, train_data, eval_data) as run:", "trainer.train(")],
    "07": [("check_adapter(adapter_dir, model)", "PeftModel.from_pretrained("),
           # issue 12's acceptance on the tiny model: the base loses on eval loss and on format
           ("assert base_loss > tuned_loss", None), ("assert format_base < format_tuned", None)],
    "08": [("with training_run(trainer, profile, train_data, eval_data) as run:", "trainer.train(")],
    "09": [("check_adapter(adapter_dir, model)", "PeftModel.from_pretrained("),
           ("with served(", "client.completions.create("), ("card_failures(readme", None)],
}


@pytest.mark.parametrize("number", sorted(GUARDS))
def test_checks_are_wired_before_the_calls_they_guard(number):
    path = next(p for p in COURSE if p.name.startswith(number))
    cells = _cells(path)
    start = next((i for i, (k, s) in enumerate(cells) if k == "markdown" and s.startswith("## Exercises")), len(cells))
    recap = next((i for i, (k, s) in enumerate(cells) if k == "markdown" and s.startswith("## Recap")), len(cells))
    code = "\n".join(s for i, (k, s) in enumerate(cells) if k == "code" and not start <= i < recap)  # appendices count
    for first, then in GUARDS[number]:
        assert first in code, f"{path.name} does not call {first}"
        if then is not None:
            assert then in code and code.index(first) < code.index(then), f"{path.name}: {first} must come before {then}"


def test_unpacked_rows_hint_names_the_examples_trl_dropped(capsys):
    """Counting examples instead of rows: trl drops an example whose prompt alone fills max_length."""
    from datasets import Dataset

    args = SimpleNamespace(packing=False, max_length=8, per_device_train_batch_size=2)
    mine = SimpleNamespace(args=args, train_dataset=[{"input_ids": [1] * n} for n in (3, 5, 4, 4, 2)])
    packed = SimpleNamespace(args=SimpleNamespace(packing=True, max_length=8, per_device_train_batch_size=2),
                             train_dataset=Dataset.from_dict({"input_ids": [[1] * 8, [1] * 8, [1] * 8],
                                                              "seq_lengths": [[3, 5], [4, 4], [2, 6]]}))
    assert exercises.check_unpacked_rows((mine, 6, 0.1), packed) is False
    out = capsys.readouterr().out
    assert "number of examples" in out and "prompt alone fills max_length=8" in out and "(1 here)" in out
    assert exercises.check_unpacked_rows((mine, 5, 0.1), packed) is True
    assert "less 1: trl drops" in capsys.readouterr().out
