"""Bad input never passes silently: a course error naming the problem, where it is and the fix,
or a documented warning with advice (issue 11, part 2). One named test per case."""

import copy
import json
import os
import shutil
import warnings

import pytest

from course_utils.data import check_split_size, load_alpaca, train_eval_split
from course_utils.errors import (ConfigError, CourseError, CourseWarning, DataError,
                                 MissingArtifactError, ModelLoadError, OutputError, ProfileError)
from course_utils.profile import TINY_MODEL_DIR, Hardware, get_profile

CPU = Hardware(cuda=False)
ROW = {"instruction": "Say hi.", "input": "", "output": "Hi!"}


def assert_course_error(err, *words, where=None):
    assert isinstance(err, CourseError) and err.cause and err.fix
    text = str(err)
    for word in words:
        assert word in text, (word, text)
    if where is not None:
        assert err.where and where in err.where, (where, err.where)


def jsonl(tmp_path, rows, name="rows.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


# ---------------------------------------------------------------- values in the data


@pytest.mark.parametrize("value, kind", [(None, "empty (null)"), (42, "a number"), (["a"], "a list"),
                                         ({"a": 1}, "an object")], ids=["none", "number", "list", "dict"])
def test_wrong_kind_in_output_names_column_and_row(tmp_path, value, kind):
    path = jsonl(tmp_path, [ROW, ROW, {**ROW, "output": value}])
    with pytest.raises(DataError) as err:
        load_alpaca(path)
    assert_course_error(err.value, "'output'", kind, where="row 2 (line 3 of rows.jsonl)")


def test_wrong_kind_in_instruction_of_a_json_array(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([ROW, {**ROW, "instruction": 7}]))
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "'instruction'", "a number", where="row 1")


def test_numbers_column_in_csv_names_column_and_row_and_the_fix_works(tmp_path):
    """A CSV has no types: load_dataset guesses numbers; the fix (read every column as text) works."""
    from datasets import load_dataset

    from course_utils.data import csv_text_features, validate_alpaca

    path = tmp_path / "rows.csv"
    path.write_text('instruction,input,output\nAdd 1 and 1.,,"2"\nAdd 2 and 2.,,4\n')  # quotes do not help
    raw = load_dataset("csv", data_files=str(path), split="train")
    with pytest.raises(DataError) as err:
        validate_alpaca(raw, "rows.csv", lines=[2, 3])
    assert_course_error(err.value, "'output'", "a number", "features=csv_text_features(path)",
                        where="row 0 (line 2 of rows.csv)")
    fixed = load_dataset("csv", data_files=str(path), split="train", features=csv_text_features(path))
    assert validate_alpaca(fixed, "rows.csv")["output"] == ["2", "4"]  # the fix, applied
    assert load_alpaca(str(path))["output"] == ["2", "4"]  # the course reads CSV values as text


def test_csv_through_notebook_02s_guard_reads_text_and_empty_fields_as_empty_strings(tmp_path):
    """02 writes its own load_dataset call inside alpaca_source: for a CSV the guard's options read
    digits as text and an empty field (or the text 'NA') as a string, exactly as load_alpaca does."""
    from datasets import load_dataset

    from course_utils.data import alpaca_source, validate_alpaca

    path = tmp_path / "rows.csv"
    path.write_text('instruction,input,output\nAdd 1 and 1.,,2\nSay NA.,NA,NA\n')
    with alpaca_source(str(path)) as (name, data_files, csv_options):
        raw = load_dataset(name, data_files=data_files, split="train", **csv_options)
    assert raw["input"] == ["", "NA"] and raw["output"] == ["2", "NA"]  # strings, never None or a number
    assert validate_alpaca(raw, "rows.csv")["input"] == load_alpaca(str(path))["input"] == ["", "NA"]
    with alpaca_source("sample") as (name, data_files, csv_options):
        assert name == "json" and csv_options == {}  # only a CSV gets options


def test_null_input_means_no_input(tmp_path):
    ds = load_alpaca(jsonl(tmp_path, [{**ROW, "input": None}, {**ROW, "input": "x"}]))
    assert ds["input"] == ["", "x"]


def test_text_column_disagreeing_is_rebuilt_with_a_warning(tmp_path):
    from course_utils.data import format_example

    path = jsonl(tmp_path, [{**ROW, "text": "something else"}, {**ROW, "text": format_example(ROW)}])
    with pytest.warns(CourseWarning, match="1 of 2 rows.*'text' was rebuilt"):
        ds = load_alpaca(path)
    assert ds["text"] == [format_example(ROW)] * 2


@pytest.mark.parametrize("blank", ["", "   \n"], ids=["empty", "whitespace"])
def test_empty_output_rows_are_dropped_with_a_warning(tmp_path, blank):
    """The original Alpaca release has a few empty outputs: the course drops such rows and says which,
    it does not stop (a row that teaches 'answer nothing' is worse than one row fewer)."""
    path = jsonl(tmp_path, [ROW, {**ROW, "output": blank}, {**ROW, "instruction": "Say bye."}])
    with pytest.warns(CourseWarning) as record:
        ds = load_alpaca(path)
    assert ds["instruction"] == [ROW["instruction"], "Say bye."]
    message = str(record[0].message)
    for part in ("empty or blank 'output'", "stop at once", "dropped, 2 of 3 rows kept",
                 "row 1 (line 2 of rows.jsonl)"):
        assert part in message, (part, message)


def test_the_rows_after_a_dropped_row_keep_their_own_line_numbers(tmp_path):
    """A warning about a later row (here a 'text' to rebuild) still names that row's line in the file."""
    from course_utils.data import format_example

    path = jsonl(tmp_path, [{**ROW, "output": "", "text": ""}, {**ROW, "text": "something else"},
                            {**ROW, "text": format_example(ROW)}])
    with pytest.warns(CourseWarning) as record:
        ds = load_alpaca(path)
    assert len(ds) == 2
    rebuilt = [str(w.message) for w in record if "rebuilt" in str(w.message)]
    assert rebuilt and "line 2 of rows.jsonl" in rebuilt[0], rebuilt


def test_only_empty_outputs_is_refused(tmp_path):
    path = jsonl(tmp_path, [{**ROW, "output": ""}, {**ROW, "output": " "}])
    with pytest.raises(DataError) as err:
        load_alpaca(path)
    assert_course_error(err.value, "every row", "empty or blank 'output'", "fill 'output'",
                        where="row 0 (line 1 of rows.jsonl)")


def test_header_names_with_stray_spaces_are_stripped_with_a_warning(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("instruction , input,  output\nSay hi.,,Hi!\n")
    with pytest.warns(CourseWarning, match="stray spaces"):
        ds = load_alpaca(str(path))
    assert ds[0]["output"] == "Hi!" and {"instruction", "input", "output"} <= set(ds.column_names)


# ---------------------------------------------------------------- files that do not parse


def test_malformed_jsonl_line_gives_the_line_number(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + json.dumps(ROW) + "\n{\"instruction\": \"x\",\n")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "line 3 is not valid JSON", where="line 3 of")


def test_malformed_json_array_gives_the_line_number(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text("[\n" + json.dumps(ROW) + ",\n" + json.dumps(ROW)[:-1] + "\n]\n")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "line 4 is not valid JSON")


@pytest.mark.parametrize("row", ["Say hi.,,Hi!,extra", "Say hi."], ids=["too_many", "too_few"])
def test_malformed_csv_row_gives_the_line_number(tmp_path, row):
    path = tmp_path / "rows.csv"
    path.write_text(f"instruction,input,output\nSay hi.,,Hi!\n{row}\n")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "line 3 has", "the header has 3", "quote", where="line 3 of")


def test_wrong_text_encoding_gives_the_line_and_the_fix(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes((json.dumps(ROW) + "\n").encode() + '{"instruction": "Caf\u00e9", "output": "x"}\n'.encode("latin-1"))
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "not UTF-8", "line 2", "encoding='utf-8'")


def test_folder_where_a_file_was_expected(tmp_path):
    folder = tmp_path / "mydata"
    folder.mkdir()
    jsonl(folder, [ROW], "train.jsonl")
    with pytest.raises(DataError) as err:
        load_alpaca(str(folder))
    assert_course_error(err.value, "is a folder, not a file", "train.jsonl")


def test_data_too_small_for_the_eval_split(tmp_path):
    profile = get_profile(hardware=CPU, env={"COURSE_DATA": jsonl(tmp_path, [ROW] * 5),
                                             "COURSE_OUTPUT_DIR": str(tmp_path / "out")})
    assert profile.eval_rows > 5
    with pytest.raises(DataError) as err:
        train_eval_split(profile)
    assert_course_error(err.value, "5 row(s)", f"hold out {profile.eval_rows}", "eval_rows")
    check_split_size(30, 24)  # enough: no error


# ---------------------------------------------------------------- environment variables


def test_stray_spaces_in_course_data_and_course_model_are_ignored(tmp_path):
    p = get_profile(hardware=CPU, env={"COURSE_DATA": "  sample \n", "COURSE_MODEL": f" {TINY_MODEL_DIR}  ",
                                       "COURSE_OUTPUT_DIR": str(tmp_path)})
    assert p.data == "sample" and p.model == str(TINY_MODEL_DIR)


@pytest.mark.parametrize("steps", ["0", "-3", " -1 "])
def test_course_max_steps_zero_or_below_is_refused(steps):
    with pytest.raises(ProfileError) as err:
        get_profile(hardware=CPU, env={"COURSE_MAX_STEPS": steps})
    assert_course_error(err.value, "COURSE_MAX_STEPS", "positive")


def test_tilde_in_course_output_dir_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    p = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": "~/course-out"})
    assert p.output_dir == tmp_path / "course-out" and p.output_dir.is_dir()
    assert p.adapter_dir == tmp_path / "course-out" / "adapter"


def test_output_dir_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(OutputError) as err:
        get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path / "out" / "run1")})
    assert_course_error(err.value, "is a file", "COURSE_OUTPUT_DIR")


def test_output_dir_that_is_read_only(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the write itself fail as it would for a learner
        from pathlib import Path

        def refuse(self, data):
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "write_bytes", refuse)
    else:
        folder.chmod(0o555)
    with pytest.raises(OutputError) as err:
        get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(folder)})
    assert_course_error(err.value, "cannot be written", "Permission denied", "COURSE_OUTPUT_DIR")


# ---------------------------------------------------------------- models that cannot do the course


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR), AutoTokenizer.from_pretrained(TINY_MODEL_DIR)


def _small(config_cls, **kw):
    from transformers import AutoModelForCausalLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AutoModelForCausalLM.from_config(config_cls(**kw))


def test_encoder_model_is_refused(tiny):
    from transformers import BertConfig

    from course_utils.checks import check_model

    bert = _small(BertConfig, vocab_size=1024, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=64)
    with pytest.raises(ModelLoadError) as err:
        check_model(bert, tiny[1], 256)
    assert_course_error(err.value, "encoder", "decoder-only")


def test_encoder_decoder_folder_is_refused(tmp_path):
    from transformers import T5Config

    from course_utils.checks import check_model_folder

    T5Config(vocab_size=64, d_model=16, num_layers=1, num_heads=2, d_ff=32).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError) as err:
        check_model_folder(str(tmp_path))
    assert_course_error(err.value, "t5 model, not a causal decoder")


def test_fewer_positions_than_max_length(tiny):
    from transformers import GPT2Config

    from course_utils.checks import check_model

    gpt2 = _small(GPT2Config, vocab_size=1024, n_embd=32, n_layer=1, n_head=2, n_positions=64)
    with pytest.raises(ConfigError) as err:
        check_model(gpt2, tiny[1], 256)
    assert_course_error(err.value, "max_length=256", "64", "lower max_length to at most 64")
    check_model(gpt2, tiny[1], 64)  # fits


def test_tokenizer_ids_beyond_the_embedding_rows(tiny):
    from transformers import LlamaConfig

    from course_utils.checks import check_model

    small = _small(LlamaConfig, vocab_size=500, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                   num_attention_heads=2, num_key_value_heads=2)
    with pytest.raises(ModelLoadError) as err:
        check_model(small, tiny[1], 256)
    assert_course_error(err.value, "ids up to 999", "500 rows", "resize_token_embeddings")
    check_model(*tiny, 256)  # the course's own model passes


def test_model_folder_without_tokenizer_files(tmp_path):
    from course_utils.models import load_tokenizer

    for name in ("config.json", "model.safetensors"):
        shutil.copy(TINY_MODEL_DIR / name, tmp_path / name)
    with pytest.raises(ModelLoadError) as err:
        load_tokenizer(str(tmp_path))
    assert_course_error(err.value, "no tokenizer files", "save_pretrained")


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory, tiny):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("adapter")
    base = AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR)
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
                   ).save_pretrained(folder)
    return folder


def test_adapter_folder_given_as_base_model(adapter_dir):
    from course_utils.models import load_model

    profile = get_profile(hardware=CPU, env={"COURSE_MODEL": str(adapter_dir)})
    with pytest.raises(ModelLoadError) as err:
        load_model(profile, CPU)
    assert_course_error(err.value, "LoRA adapter, not a base model", "PeftModel.from_pretrained",
                        str(TINY_MODEL_DIR))


# ---------------------------------------------------------------- adapters that do not belong


def test_adapter_of_other_shapes(adapter_dir):
    from transformers import LlamaConfig

    from course_utils.checks import check_adapter

    other = _small(LlamaConfig, vocab_size=1024, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=2, num_key_value_heads=2)
    with pytest.raises(ModelLoadError) as err:
        check_adapter(adapter_dir, other)
    assert_course_error(err.value, "q_proj", "128", "64", "trained on another model", str(TINY_MODEL_DIR))


def test_adapter_of_another_architecture(adapter_dir):
    from transformers import GPT2Config

    from course_utils.checks import check_adapter

    gpt2 = _small(GPT2Config, vocab_size=1024, n_embd=128, n_layer=2, n_head=4, n_positions=256)
    with pytest.raises(ModelLoadError) as err:
        check_adapter(adapter_dir, gpt2)
    assert_course_error(err.value, "does not have", "GPT2LMHeadModel", "another architecture")


def test_adapter_of_same_shapes_but_another_model_warns_naming_both(adapter_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from course_utils.checks import check_adapter

    copy = shutil.copytree(TINY_MODEL_DIR, tmp_path / "another-model")
    other = AutoModelForCausalLM.from_pretrained(copy)
    with pytest.warns(CourseWarning) as record:
        check_adapter(adapter_dir, other)
    text = str(record[0].message)
    assert str(TINY_MODEL_DIR) in text and str(copy) in text


def test_adapter_of_its_own_base_passes_quietly(adapter_dir, tiny):
    from course_utils.checks import check_adapter

    with warnings.catch_warnings():
        warnings.simplefilter("error", CourseWarning)
        assert check_adapter(adapter_dir, tiny[0])["r"] == 4


def test_adapter_folder_with_config_but_no_weights(adapter_dir, tmp_path):
    from course_utils.checks import check_adapter
    from course_utils.inference import load_with_adapter

    folder = tmp_path / "adapter"
    folder.mkdir()
    shutil.copy(adapter_dir / "adapter_config.json", folder)
    with pytest.raises(ModelLoadError) as err:
        check_adapter(folder)
    assert_course_error(err.value, "no weights", "rerun notebook 06")
    with pytest.raises(ModelLoadError):
        load_with_adapter(None, folder)


def test_adapter_with_truncated_weights(adapter_dir, tmp_path):
    from course_utils.checks import check_adapter

    folder = shutil.copytree(adapter_dir, tmp_path / "adapter")
    weights = folder / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError) as err:
        check_adapter(folder)
    assert_course_error(err.value, "truncated", "save it again")


def test_adapter_missing_entirely(tmp_path):
    from course_utils.checks import check_adapter

    with pytest.raises(MissingArtifactError) as err:
        check_adapter(tmp_path / "adapter")
    assert_course_error(err.value, "06_training.ipynb")


# ---------------------------------------------------------------- prompts


def test_generate_with_an_empty_prompt(tiny):
    from course_utils.inference import generate_answers

    with pytest.raises(ConfigError) as err:
        generate_answers(tiny[0], tiny[1], ["What is 2+2?", "  "], max_new_tokens=4)
    assert_course_error(err.value, "prompt 1 is empty", where="prompts[1]")


def test_prompt_longer_than_the_model_positions(tiny):
    from transformers import GPT2Config

    from course_utils.checks import check_prompts

    gpt2 = _small(GPT2Config, vocab_size=1024, n_embd=32, n_layer=1, n_head=2, n_positions=64)
    long_prompt = "word " * 200
    with pytest.raises(ConfigError) as err:
        check_prompts(tiny[1], ["short", long_prompt], 16, gpt2)
    assert_course_error(err.value, "prompt 1", "max_new_tokens=16", "64 positions")
    with pytest.warns(CourseWarning, match="rotary"):  # the tiny LLaMA: 2048 rotary positions
        check_prompts(tiny[1], ["word " * 2100], 16, tiny[0])


def test_instructions_and_inputs_of_different_lengths(tiny):
    from course_utils.inference import ask

    with pytest.raises(ConfigError) as err:
        ask(tiny[0], tiny[1], ["a", "b", "c"], ["x"], max_new_tokens=2)
    assert_course_error(err.value, "3 instructions but 1 inputs")
    with pytest.raises(ConfigError, match="one string"):
        ask(tiny[0], tiny[1], "What is 2+2?", max_new_tokens=2)


# ---------------------------------------------------------------- learner's own data: warnings, not asserts


def test_many_rows_over_max_length_warn_with_advice():
    from course_utils.data import warn_if_cut

    with pytest.warns(CourseWarning, match="25.0% of the rows.*max_length=100"):
        assert warn_if_cut([50, 60, 70, 200], 100) == 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("error", CourseWarning)
        warn_if_cut([50, 60, 70, 80], 100)


def test_tokenizer_with_its_own_pad_token_is_fine(tiny):
    from course_utils.checks import check_pad_token
    from course_utils.models import ensure_pad_token

    tok = ensure_pad_token(copy.deepcopy(tiny[1]))  # pad = EOS
    with warnings.catch_warnings():
        warnings.simplefilter("error", CourseWarning)
        check_pad_token(tok)
        tok.add_special_tokens({"pad_token": "<pad>"})  # its own pad token: also fine
        check_pad_token(tok)


def test_tokenizer_without_eos_is_named_by_the_pad_check(tiny):
    """Notebook 04 sets pad = EOS and then calls check_pad_token: with no EOS, that check says so."""
    from course_utils.checks import check_pad_token

    tok = copy.deepcopy(tiny[1])
    tok.eos_token = None
    tok.pad_token = tok.eos_token  # what 04's cell does: still None
    with pytest.warns(CourseWarning, match="has no EOS token, so a fine-tuned model could never signal"):
        check_pad_token(tok)


# ---------------------------------------------------------------- issue 20: wrong fixes, odd files, silent cases


def test_utf16_csv_is_named_and_the_fix_works(tmp_path):
    from pathlib import Path

    path = tmp_path / "rows.csv"
    path.write_text("instruction,input,output\nSay caf\u00e9.,,Caf\u00e9!\n", encoding="utf-16")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "UTF-16", "encoding='utf-16'")
    p = Path(path)
    p.write_text(p.read_text(encoding="utf-16"), encoding="utf-8")  # the fix, as the error gives it
    assert load_alpaca(str(path))["output"] == ["Caf\u00e9!"]


def test_semicolon_separated_csv_names_the_separator_and_the_fix_works(tmp_path):
    import csv

    path = tmp_path / "rows.csv"
    path.write_text("instruction;input;output\nList colours, please.;;Red, green and blue.\nSay hi.;;Hi!\n")
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "separated by semicolons", "delimiter=';'", where="line 1")
    assert "quote" not in err.value.fix
    new_path = tmp_path / "fixed.csv"
    rows = list(csv.reader(open(path, newline="", encoding="utf-8"), delimiter=";"))
    csv.writer(open(new_path, "w", newline="", encoding="utf-8")).writerows(rows)
    assert load_alpaca(str(new_path))["instruction"] == ["List colours, please.", "Say hi."]


def test_column_oriented_json_says_columns_not_rows_and_the_fix_works(tmp_path):
    path = tmp_path / "cols.json"
    path.write_text(json.dumps({"instruction": ["Say hi.", "Say bye."], "input": ["", ""], "output": ["Hi!", "Bye!"]}))
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, "holds columns, not rows", "zip(*data.values())")
    data = json.load(open(path))
    rows = [dict(zip(data, values)) for values in zip(*data.values())]
    fixed = tmp_path / "rows.jsonl"
    fixed.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert load_alpaca(str(fixed))["output"] == ["Hi!", "Bye!"]


@pytest.mark.parametrize("name, text", [("rows.csv", "instruction,input,output\n"), ("rows.json", "[]"),
                                        ("rows.jsonl", "\n\n  \n")], ids=["header_only", "empty_list", "blank_lines"])
def test_file_with_no_rows_says_so(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_alpaca(str(path))
    assert_course_error(err.value, f"{name} has no rows")
    assert "corresponds to no data" not in str(err.value)


def test_url_in_course_data_says_urls_are_not_loaded(tmp_path):
    from course_utils.data import check_data_file

    url = "https://example.com/data/alpaca.jsonl"
    profile = get_profile(hardware=CPU, env={"COURSE_DATA": url, "COURSE_OUTPUT_DIR": str(tmp_path)})
    assert profile.data == url  # not mangled into a path
    for call in (lambda: load_alpaca(url), lambda: check_data_file(url)):
        with pytest.raises(DataError) as err:
            call()
        assert_course_error(err.value, "web address", "curl -L -o")


def test_config_json_as_course_model_points_to_its_folder():
    from course_utils.models import load_tokenizer

    config = TINY_MODEL_DIR / "config.json"
    with pytest.raises(ModelLoadError) as err:
        load_tokenizer(str(config))
    assert_course_error(err.value, "names a file (config.json)", f"set COURSE_MODEL to the folder that holds it: {TINY_MODEL_DIR}")
    assert load_tokenizer(str(TINY_MODEL_DIR)) is not None  # the fix


def test_relative_paths_start_at_the_course_folder(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(repo / "notebooks")  # where a notebook's kernel runs
    rel = Path(os.path.relpath(tmp_path / "rel_out", repo))
    profile = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(rel), "COURSE_DATA": "./mydata.jsonl"})
    assert profile.output_dir == tmp_path / "rel_out" and profile.data == str(repo / "mydata.jsonl")
    out = capsys.readouterr().out
    assert f"using {tmp_path / 'rel_out'}" in out and f"using {repo / 'mydata.jsonl'}" in out


def test_train_and_eval_overlap_is_dropped_from_eval_with_a_warning(tmp_path):
    rows = [{"instruction": f"Say {i}.", "input": "", "output": f"{i}!"} for i in range(30)]
    repeated = get_profile(hardware=CPU, env={"COURSE_DATA": jsonl(tmp_path, rows * 8, "repeated.jsonl"),
                                              "COURSE_OUTPUT_DIR": str(tmp_path / "out")})
    with pytest.raises(DataError) as err:  # 8 copies of 30 rows: every held-out row is a training row
        train_eval_split(repeated)
    assert_course_error(err.value, "is also a training row", "drop_duplicates")
    some = rows * 1 + rows[:10] + [{"instruction": f"Add {i}.", "input": "", "output": f"{i}"} for i in range(40)]
    profile = repeated.replace(data=jsonl(tmp_path, some, "some.jsonl"))
    with pytest.warns(CourseWarning, match="ask a prompt the model also trains on: they were dropped") as caught:
        train, held_out = train_eval_split(profile)
    assert "the eval loss is measured on the" in str(caught[0].message)
    assert not set(held_out["prompt"]) & set(train["prompt"]) and len(held_out) < profile.eval_rows
    other_answer = rows + [{**row, "output": "something else"} for row in rows[:3]] + [
        {"instruction": f"Add {i}.", "input": "", "output": f"{i}"} for i in range(40)]
    train, held_out = train_eval_split(repeated.replace(data=jsonl(tmp_path, other_answer, "other.jsonl")))
    assert not set(held_out["prompt"]) & set(train["prompt"])  # the same prompt with another answer counts too
    with warnings.catch_warnings():  # the course's own sample: one repeated guide prompt, under the 10 % limit
        warnings.simplefilter("error", CourseWarning)
        train_eval_split(get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path / "out")}))


def test_eos_text_inside_an_output_warns_naming_the_rows(tiny):
    from datasets import Dataset

    from course_utils.checks import check_training_rows

    rows = Dataset.from_dict({"prompt": ["Q1\n", "Q2\n", "Q3\n"],
                              "completion": ["fine", f"stop{tiny[1].eos_token}here", "fine"]})
    with pytest.warns(CourseWarning, match=r"1 output\(s\).*contain the text") as caught:
        check_training_rows(tiny[1], rows, 256)
    assert "rows 1" in str(caught[0].message)


def test_every_prompt_longer_than_max_length_is_refused_before_training(tiny):
    from datasets import Dataset

    from course_utils.checks import check_training_rows

    rows = Dataset.from_dict({"prompt": ["word " * 150] * 4, "completion": ["an answer"] * 4})
    with pytest.raises(ConfigError) as err:
        check_training_rows(tiny[1], rows, 256)
    assert_course_error(err.value, "every prompt", "100% of 4 rows", "no answer token", "max_length=")
    check_training_rows(tiny[1], rows, 400)  # the fix: a larger max_length


def test_ask_with_an_empty_instruction(tiny):
    from course_utils.inference import ask

    with pytest.raises(ConfigError) as err:
        ask(tiny[0], tiny[1], [""], max_new_tokens=4)
    assert_course_error(err.value, "instruction 0 is empty", where="instructions[0]")


def test_max_new_tokens_zero_is_refused(tiny):
    from course_utils.inference import ask, generate_answers

    for call in (lambda: generate_answers(tiny[0], tiny[1], ["Q"], max_new_tokens=0),
                 lambda: ask(tiny[0], tiny[1], ["Q"], max_new_tokens=0)):
        with pytest.raises(ConfigError) as err:
            call()
        assert_course_error(err.value, "max_new_tokens=0", "positive number")
    from course_utils.models import ensure_pad_token

    assert len(ask(tiny[0], ensure_pad_token(copy.deepcopy(tiny[1])), ["Q"], max_new_tokens=1)) == 1  # the fix


def test_model_checks_run_wherever_a_model_is_loaded(tmp_path):
    """load_model (notebooks 06 and 07, the script) refuses an encoder and too few positions."""
    from transformers import BertConfig, BertForMaskedLM, GPT2Config

    from course_utils.models import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BertForMaskedLM(BertConfig(vocab_size=1024, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=64)).save_pretrained(tmp_path / "bert")
        _small(GPT2Config, vocab_size=1024, n_embd=32, n_layer=1, n_head=2, n_positions=128).save_pretrained(tmp_path / "gpt2")
    base = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path / "out")})
    with warnings.catch_warnings(), pytest.raises(ModelLoadError) as err:
        warnings.simplefilter("ignore")
        load_model(base.replace(model=str(tmp_path / "bert")))
    assert_course_error(err.value, "encoder", "decoder-only")
    with pytest.raises(ConfigError) as err:
        load_model(base.replace(model=str(tmp_path / "gpt2")))
    assert_course_error(err.value, "max_length=256", "the model has 128", "lower max_length to at most 128")
    load_model(base.replace(model=str(tmp_path / "gpt2"), max_length=128))  # the fix


def test_course_data_changed_since_training_warns_in_07(tmp_path):
    from course_utils.runs import _write_record, check_same_data, run_record

    profile = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path / "out")})
    _write_record(profile.checkpoint_dir, run_record(profile))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CourseWarning)
        check_same_data(profile)  # the same data: quiet
    other = profile.replace(data=jsonl(tmp_path, [ROW] * 40))
    with pytest.warns(CourseWarning, match="trained on other data") as caught:
        check_same_data(other)
    assert "set COURSE_DATA back to 'sample'" in str(caught[0].message)


def test_quick_trial_is_marked_and_a_rising_loss_is_said_properly():
    from course_utils.recipe import describe_drop

    assert get_profile(hardware=CPU, env={"COURSE_MAX_STEPS": "2"}).trial
    assert not get_profile(hardware=CPU, env={}).trial
    assert describe_drop(-0.31) == "loss rose 31%" and describe_drop(0.62) == "loss fell 62%"


@pytest.mark.parametrize("fault", ["ENOSPC", "EFBIG", "torch", "safetensors"])
def test_disk_full_while_saving_says_nothing_was_lost(tmp_path, fault):
    import errno

    from conftest import make_checkpoint
    from course_utils.files import atomic_dir
    from course_utils.runs import exclusive

    profile = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path / "out")})
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    exc = {"ENOSPC": OSError(errno.ENOSPC, "No space left on device"),
           "EFBIG": OSError(errno.EFBIG, "File too large"),
           "torch": RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed "
                                 "writing file data/0: file write failed"),
           "safetensors": Exception("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                                    "message: \"No space left on device\" })")}[fault]
    with pytest.raises(OutputError) as err:  # a checkpoint written by the trainer, inside the run's lock
        with exclusive(profile.output_dir):
            raise exc
    assert_course_error(err.value, "the disk is full at", "nothing was lost", "checkpoint-20", "free space", "rerun")
    with pytest.raises(OutputError) as err:  # the adapter, saved through atomic_dir
        with atomic_dir(profile.adapter_dir) as folder:
            (folder / "adapter_config.json").write_text("{}")
            raise exc
    assert_course_error(err.value, f"the disk is full at {profile.adapter_dir}", "checkpoint-20")
    assert not profile.adapter_dir.exists() and not list(profile.output_dir.glob(".adapter.tmp-*"))


def test_file_size_limit_while_saving_is_a_course_error(tmp_path):
    """The real fault: a file-size limit (ulimit -f) under safetensors' and torch.save's writers.

    Set on this process's soft limit for the two saves only (Python ignores SIGXFSZ, so a write past
    the limit fails with EFBIG, as in a shell with ulimit -f), then put back: no second interpreter."""
    import resource

    import torch
    from safetensors.torch import save_file

    from course_utils.files import atomic_dir

    lines = []
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    for writer in ("safetensors", "torch"):
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
        try:
            with atomic_dir(tmp_path / "adapter") as folder:
                if writer == "safetensors":
                    save_file({"w": torch.zeros(100000)}, str(folder / "adapter_model.safetensors"))
                else:
                    torch.save({"w": torch.zeros(100000)}, folder / "optimizer.pt")
        except OutputError as err:
            lines.append(f"{writer} {err.lines()[0]}")
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert [l.split()[0] for l in lines] == ["safetensors", "torch"], lines
    assert all(f"OutputError: the disk is full at {tmp_path / 'adapter'}" in l for l in lines)
    assert not (tmp_path / "adapter").exists() and not list(tmp_path.glob(".adapter.tmp-*"))
