"""The tiny base model's pre-training text and build: plain text, nothing held out leaks, repeatable."""

from __future__ import annotations

import json

from course_utils.data import RESPONSE_MARKER
from course_utils.sample_data import (HELD_OUT_CAPITALS, held_out_questions, pretraining_texts,
                                      sample_rows)


def test_pretraining_text_is_plain_prose_without_the_template():
    docs = pretraining_texts()
    templated = [d for d in docs if "###" in d or RESPONSE_MARKER in d or "Below is an instruction" in d]
    assert not templated, f"the base model must not see the instruction template: {templated[:2]}"
    # several sentences per document, so the base model has no habit of stopping after one
    assert min(d.count(". ") + d.count("? ") + 1 for d in docs) >= 3


def test_held_out_questions_appear_nowhere():
    questions, _ = held_out_questions()
    text = "\n".join(pretraining_texts())
    assert not [q for q in questions if q in text], "notebook 07's questions leaked into pre-training"
    rows = json.dumps(sample_rows())
    assert not [c for c, _ in HELD_OUT_CAPITALS if c in rows], "a held-out country is in the fine-tuning sample"
    # the base model does know the facts: every held-out capital is in its reading
    assert all(f"The capital of {c} is {k}." in text for c, k in HELD_OUT_CAPITALS)


def test_build_is_repeatable_and_atomic(tmp_path):
    """Two builds (the second over the first's folder, so two builds prove both claims)."""
    from course_utils.tiny_model import build

    names = ("model.safetensors", "tokenizer.json", "config.json")
    first = build(tmp_path / "a", steps=2)
    saved = {name: (first / name).read_bytes() for name in names}
    (first / "left-from-before.txt").write_text("an older build's file")
    second = build(first, steps=2)  # rebuilding over an existing folder replaces it whole
    assert not (second / "left-from-before.txt").exists(), "the old folder was replaced whole"
    for name in names:
        assert (second / name).read_bytes() == saved[name], f"{name} differs between two builds"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"], "no temporary folder is left behind"


def test_short_answer_rows_are_held_out_rows_whose_reference_fits_half_the_cap():
    """Notebook 07's before/after questions on a model larger than the tiny one (the tiny model asks
    ``held_out_questions()``, written out in the cell): at most 16 held-out rows whose reference fits in
    half the answer cap."""
    from course_utils import get_profile
    from course_utils.data import format_prompt, train_eval_split
    from course_utils.inference import short_answer_rows
    from course_utils.models import load_tokenizer

    profile = get_profile("smoke")
    tokenizer = load_tokenizer(profile.model)
    _, eval_rows = train_eval_split(profile)
    questions, prompts, expected = short_answer_rows(eval_rows, tokenizer, max_new_tokens=16)
    short = [r for r in eval_rows if len(tokenizer(r["completion"], add_special_tokens=False)["input_ids"]) < 8]
    assert prompts and prompts == [r["prompt"] for r in short][:16] and expected == [r["completion"] for r in short][:16]
    assert all(format_prompt(*q.split("\n\n### Input:\n")) == p for q, p in zip(questions, prompts))
