import json

import pytest

from course_utils.data import (PROMPT_NO_INPUT, PROMPT_WITH_INPUT, char_lengths, format_example,
                               format_prompt, load_alpaca, percentile, share_over,
                               to_prompt_completion, token_lengths)
from course_utils import get_profile
from course_utils.errors import DataError


def test_templates_are_alpacas_exactly():
    assert format_prompt("Do X.") == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nDo X.\n\n### Response:\n")
    assert format_prompt("Do X.", "the input") == (
        "Below is an instruction that describes a task, paired with an input that provides further "
        "context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nDo X.\n\n### Input:\nthe input\n\n### Response:\n")
    assert "{input}" in PROMPT_WITH_INPUT and "{input}" not in PROMPT_NO_INPUT


def test_blank_input_uses_short_template():
    assert format_prompt("Do X.", "   ") == format_prompt("Do X.")


def test_example_is_prompt_plus_output_without_eos():
    row = {"instruction": "Add.", "input": "1 and 2", "output": "Three."}
    assert format_example(row) == format_prompt("Add.", "1 and 2") + "Three."
    assert not format_example(row).endswith("</s>")


def test_sample_schema_and_shape():
    ds = load_alpaca("sample")
    assert len(ds) >= 200
    assert {"instruction", "input", "output", "text"} <= set(ds.column_names)
    share_input = sum(bool(x) for x in ds["input"]) / len(ds)
    assert 0.3 <= share_input <= 0.5
    assert max(char_lengths(ds["text"])) > 1024  # a long tail for notebook 03
    assert all(format_example(r) == r["text"] for r in ds)


def test_sample_is_reproducible(tmp_path):
    from course_utils.data import SAMPLE_PATH
    from course_utils.sample_data import write_sample

    assert write_sample(tmp_path / "s.jsonl").read_text() == SAMPLE_PATH.read_text()


def test_follow_ups_are_reproducible_and_need_their_first_turn(tmp_path):
    from course_utils.chat import FOLLOW_UPS_PATH
    from course_utils.sample_data import HELD_OUT_CAPITALS, write_follow_ups

    assert write_follow_ups(tmp_path / "f.jsonl").read_text() == FOLLOW_UPS_PATH.read_text()
    conversations = [json.loads(line)["messages"] for line in FOLLOW_UPS_PATH.read_text().splitlines()]
    assert len(conversations) == 30
    for turns in conversations:
        assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
        second = turns[2]["content"]
        assert second.startswith(("And ", "Now ")), second  # it names no task: only the first turn does
        text = " ".join(t["content"] for t in turns)
        assert not any(country in text for country, _ in HELD_OUT_CAPITALS), text
        assert "whale" not in text and "owl" not in text, text  # notebook 08's held-out demo pair


def test_drop_prompt_only_keeps_the_rows_with_an_answer_token(tmp_path):
    from datasets import Dataset

    from course_utils.data import drop_prompt_only
    from course_utils.errors import ConfigError
    from course_utils.models import load_tokenizer

    tokenizer = load_tokenizer(get_profile("smoke").model)
    rows = Dataset.from_dict({"prompt": ["short question\n", "word " * 300, "another\n"],
                              "completion": ["a", "b", "c"]})
    assert drop_prompt_only(rows, tokenizer, 256)["completion"] == ["a", "c"]
    with pytest.raises(ConfigError, match="no row keeps an answer token"):
        drop_prompt_only(rows.select([1]), tokenizer, 256)


def test_text_built_when_missing_and_input_optional(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi!"}) + "\n")
    ds = load_alpaca(str(path))
    assert ds[0]["input"] == ""
    assert ds[0]["text"] == format_prompt("Say hi.") + "Hi!"


@pytest.mark.parametrize("missing", ["instruction", "output"])
def test_missing_column_is_named(tmp_path, missing):
    row = {"instruction": "a", "input": "", "output": "b"}
    del row[missing]
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=f"'{missing}'"):
        load_alpaca(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_alpaca(str(tmp_path / "nope.jsonl"))


def test_unknown_file_type(tmp_path):
    path = tmp_path / "rows.txt"
    path.write_text("hello")
    with pytest.raises(DataError, match="unknown file type"):
        load_alpaca(str(path))


def test_unreadable_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("{not json\n")
    with pytest.raises(DataError, match="could not load"):
        load_alpaca(str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_alpaca(str(path))


def test_prompt_completion_columns():
    ds = to_prompt_completion(load_alpaca("sample", limit=5))
    assert ds.column_names == ["prompt", "completion"]
    assert all(p.endswith("### Response:\n") for p in ds["prompt"])


def test_length_helpers():
    from course_utils.models import load_tokenizer
    from course_utils.profile import TINY_MODEL_DIR

    tok = load_tokenizer(str(TINY_MODEL_DIR))
    n = token_lengths(["The capital of France is Paris."], tok)[0]
    assert n == len(tok("The capital of France is Paris.")["input_ids"]) + 1  # + EOS
    assert share_over([1, 2, 3, 4], 2) == 0.5
    assert percentile([5, 1, 3, 2, 4], 100) == 5 and percentile([5, 1, 3, 2, 4], 50) in (2, 3)
