"""Notebook 09's plumbing: the judge's score parser, the model card, the lm-eval task files, and the
server that must never outlive a failing cell or a dead kernel."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from course_utils.evaluate import (CAPITALS_TASK, CHAT_CAPITALS_TASK, CHAT_FORMAT, PROSE_TASK, TASKS_DIR, data_name,
                                   difference_interval95, interval95, licence_of, markdown_table, model_card,
                                   portable_model_name,
                                   normalise, parse_score, plain_passages, port_in_use, write_capitals_task)
from course_utils.exercises.nb09 import SCORE_REPLIES
from course_utils.profile import ALPACA_ID, TINY_MODEL_DIR, XGEN_ID


@pytest.mark.parametrize("reply,score", SCORE_REPLIES)
def test_parse_score(reply, score):
    assert parse_score(reply) == score


def test_interval95_is_wilsons():
    """Wilson's interval: inside 0-1 even at 0 or n successes; 9 of 10 gives the textbook 0.596-0.982."""
    assert interval95(0, 10)[0] == pytest.approx(0, abs=1e-12) and interval95(10, 10)[1] == pytest.approx(1)
    assert interval95(9, 10) == pytest.approx((0.5958, 0.9821), abs=1e-4)


def test_difference_interval95_is_newcombes():
    """Newcombe's hybrid score interval (his method 10): 56/70 - 48/80 = 0.2, from 0.0524 to 0.3339 in his
    1998 paper; the difference is second minus first, and equal shares give an interval around 0."""
    gap, low, high = difference_interval95(48, 80, 56, 70)
    assert (gap, low, high) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)
    gap, low, high = difference_interval95(5, 10, 5, 10)
    assert gap == 0 and low == pytest.approx(-high) and low < 0


def test_normalise():
    assert normalise("The capital of Peru is  Lima.") == normalise("the capital of peru is lima")


def test_plain_passages_are_new_documents_of_the_pretraining_prose():
    """Rung 3a's text: prose of the kind the tiny model read, never one of its documents, no template."""
    from course_utils.sample_data import pretraining_texts

    passages = plain_passages()
    assert len(passages) == 8 and passages == plain_passages()  # the same passages every run
    assert not set(passages) & set(pretraining_texts())
    assert not any("###" in p or "Instruction" in p for p in passages)


def test_model_card_says_non_commercial_for_alpaca():
    card = model_card(base_model=XGEN_ID, base_license=licence_of(XGEN_ID), data=ALPACA_ID,
                      data_license=licence_of(ALPACA_ID), hyperparameters={"r": 16},
                      evaluation=[{"measure": "1 eval loss", "base": 2.0, "fine-tuned": 1.5}],
                      intended_use="teaching")
    assert card.startswith("---\nlicense: cc-by-nc-4.0\nbase_model: Salesforce/xgen-7b-8k-base\n")
    assert "non-commercial" in card and "Apache-2.0" in card and "CC BY-NC 4.0" in card
    assert "cautious reading" in card and "not settled" in card  # a reading of the licence, not a fact
    assert "| 1 eval loss | 2.000 | 1.500 |" in card
    sample = model_card(base_model=str(TINY_MODEL_DIR), base_license=licence_of("x", True), data="sample",
                        data_license=licence_of("sample"), hyperparameters={}, evaluation=[{"m": float("nan")}],
                        intended_use="")
    assert "non-commercial" not in sample and "base_model: null" in sample and "| n/a |" in sample


def test_model_card_names_the_base_model_portably(tmp_path):
    """A card is read on other machines: a Hub id stays, the shipped tiny model is named by its path in the
    repository, any other local folder by its name; never an absolute path of the machine that wrote it."""
    assert portable_model_name(XGEN_ID) == XGEN_ID
    assert portable_model_name(str(TINY_MODEL_DIR)) == "course_utils/assets/tiny-llama"
    assert portable_model_name(str(tmp_path / "my-model")) == "my-model"
    card = model_card(base_model=str(TINY_MODEL_DIR), base_license="Apache-2.0", data="sample",
                      data_license="Apache-2.0", hyperparameters={}, evaluation=[{"m": 1.0}], intended_use="")
    assert str(TINY_MODEL_DIR) not in card and str(Path.home()) not in card and "/work/" not in card
    assert "`course_utils/assets/tiny-llama`" in card and "base_model: null" in card


def test_model_card_names_the_prompt_format_shipped(tmp_path):
    """Notebook 09 ships 08's chat model: its card names the chat template, never the Alpaca one, and the
    folder it merges into is not 07's; a missing chat adapter names notebook 08."""
    from course_utils.checks import check_adapter
    from course_utils.errors import MissingArtifactError
    from course_utils.profile import get_profile

    fields = dict(base_model=XGEN_ID, base_license="Apache-2.0", data="sample", data_license="Apache-2.0",
                  hyperparameters={}, evaluation=[{"measure": "1 eval loss", "chat": 1.0}], intended_use="")
    chat = model_card(**fields, prompt_format=CHAT_FORMAT).split("## Prompt format", 1)[1]
    assert "### User:" in chat and "/v1/chat/completions" in chat and "Alpaca" not in chat
    alpaca = model_card(**fields).split("## Prompt format", 1)[1]
    assert "### Response:" in alpaca and "no chat template" in alpaca
    profile = get_profile("smoke", env={"COURSE_OUTPUT_DIR": str(tmp_path)})
    assert profile.replace(format="chat").merged_dir.name == "merged-chat" and profile.merged_dir.name == "merged"
    with pytest.raises(MissingArtifactError, match="08_chat_format"):
        check_adapter(profile.chat_adapter_dir)


def test_card_names_the_data_the_run_trained_on(tmp_path):
    """Notebook 09's card is built from the profile: on smoke it names the course's sample, never Alpaca
    (review 9 read a printed card that named tatsu-lab/alpaca after a run on the sample)."""
    from course_utils.profile import get_profile

    smoke = get_profile("smoke", env={"COURSE_OUTPUT_DIR": str(tmp_path)})
    assert data_name(smoke.data) == "course_utils/assets/alpaca_sample.jsonl"
    assert data_name(ALPACA_ID) == ALPACA_ID
    assert data_name(str(tmp_path / "my_rows.jsonl")) == "my_rows.jsonl"  # no absolute path of this machine
    card = model_card(base_model=smoke.model, base_license=licence_of(smoke.model, smoke.uses_tiny_model),
                      data=data_name(smoke.data), data_license=licence_of(smoke.data), hyperparameters={},
                      evaluation=[{"m": 1.0}], intended_use="")
    licences = card.split("## Licences", 1)[1].split("## Training", 1)[0]
    assert "**Fine-tuning data:** `course_utils/assets/alpaca_sample.jsonl`" in licences
    assert ALPACA_ID not in card and "non-commercial" not in card and "license: apache-2.0" in card


def test_markdown_table():
    assert markdown_table([{"a": 1, "b": 0.5}]).splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.500 |"]


def test_capitals_task_data_is_what_the_builder_writes(tmp_path):
    """The committed jsonl is reproducible from the sample's held-out capitals."""
    rebuilt = write_capitals_task(tmp_path / "c.jsonl").read_text()
    assert rebuilt == (TASKS_DIR / f"{CAPITALS_TASK}.jsonl").read_text()
    rows = [json.loads(line) for line in rebuilt.splitlines()]
    assert len(rows) == 12 and all(r["choices"][r["label"]].endswith(f" {r['capital']}.") for r in rows)
    assert all(r["prompt"].endswith("### Response:\n") for r in rows)
    assert all(r["prompt"].endswith(f"### Instruction:\n{r['instruction']}\n\n### Response:\n") for r in rows)


def test_task_loads_from_any_directory(tmp_path, monkeypatch):
    """The YAML's custom_dataset reads the jsonl beside it, wherever the harness is started."""
    from lm_eval.tasks import TaskManager, get_task_dict

    monkeypatch.chdir(tmp_path)
    task = get_task_dict([CAPITALS_TASK], TaskManager(include_path=str(TASKS_DIR), include_defaults=False))[CAPITALS_TASK]
    docs = list(task.test_docs())
    assert len(docs) == 12 and task.doc_to_target(docs[0]) == docs[0]["label"]
    assert task.OUTPUT_TYPE == "multiple_choice"


def test_prose_task_scores_rung_3a_passages_token_by_token(tmp_path, monkeypatch):
    """course_prose is rung 3a inside the harness: the same eight passages, each scored whole (no prompt)."""
    from lm_eval.tasks import TaskManager, get_task_dict

    monkeypatch.chdir(tmp_path)
    task = get_task_dict([PROSE_TASK], TaskManager(include_path=str(TASKS_DIR), include_defaults=False))[PROSE_TASK]
    assert task.OUTPUT_TYPE == "loglikelihood_rolling"
    assert [task.doc_to_target(doc) for doc in task.test_docs()] == plain_passages()


def test_quiet_harness_hides_gits_complaint_outside_a_checkout(tmp_path, monkeypatch, capfd):
    """simple_evaluate runs `git describe` in the current folder; outside a checkout (Colab's /content)
    git's "fatal: not a git repository" would land in the notebook. quiet_harness discards that one
    call's stderr, and only inside the block."""
    import shutil

    import lm_eval.evaluator

    from course_utils.progress import quiet_harness

    if shutil.which("git") is None:
        pytest.skip("no git here: the harness finds no commit, and prints nothing")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no checkout above tmp_path either
    with quiet_harness():
        lm_eval.evaluator.get_git_commit_hash()
        print("stderr still works", file=sys.stderr, flush=True)
    lm_eval.evaluator.get_git_commit_hash()  # outside the block: the library as it is
    err = capfd.readouterr().err
    assert "stderr still works" in err and err.count("not a git repository") == 1


def test_chat_task_asks_the_chat_model_in_the_template_it_trained_on():
    """Notebook 09 scores 08's chat adapter with course_capitals_chat, apply_chat_template=True and
    system_instruction=SYSTEM_PROMPT: the harness must send exactly the prompt 08 trained on (system and
    user turns, the assistant's turn opened), then the answer sentence with nothing in between; and the
    questions, answers and labels must be the Alpaca task's, so the two accuracies compare."""
    from lm_eval.tasks import TaskManager, get_task_dict

    from course_utils.chat import SYSTEM_PROMPT, with_chat_template
    from course_utils.models import load_tokenizer

    tasks = get_task_dict([CAPITALS_TASK, CHAT_CAPITALS_TASK],
                          TaskManager(include_path=str(TASKS_DIR), include_defaults=False))
    alpaca, chat = (list(tasks[name].test_docs()) for name in (CAPITALS_TASK, CHAT_CAPITALS_TASK))
    task = tasks[CHAT_CAPITALS_TASK]
    assert [(d["choices"], d["label"]) for d in chat] == [(d["choices"], d["label"]) for d in alpaca]
    tokenizer = with_chat_template(load_tokenizer(str(TINY_MODEL_DIR)))

    def render(history, add_generation_prompt=True):  # what lm-eval's HF backend does with the tokenizer
        return tokenizer.apply_chat_template(history, tokenize=False, add_generation_prompt=add_generation_prompt,
                                             continue_final_message=not add_generation_prompt)

    doc = chat[0]
    context = task.fewshot_context(doc, 0, system_instruction=SYSTEM_PROMPT, apply_chat_template=True,
                                   chat_template=render)
    trained_on = tokenizer.apply_chat_template([{"role": "system", "content": SYSTEM_PROMPT},
                                                {"role": "user", "content": doc["instruction"]}],
                                               tokenize=False, add_generation_prompt=True)
    assert context == trained_on and context.endswith("### Assistant:\n")
    requests = task.construct_requests(doc, context, apply_chat_template=True, chat_template=render)
    assert [r.arguments for r in requests] == [(context, choice) for choice in doc["choices"]]


# -------------------------------------------------------------------------------------------------
# the server: notebook 09's pattern run in a real kernel, with an injected failure

def _run_cells(cells: list[str], env: dict[str, str], keep_kernel=False):
    """Execute ``cells`` in a fresh kernel (errors allowed); return the notebook (and the client)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    old = dict(os.environ)
    os.environ.update(env)
    try:
        client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True)
        if not keep_kernel:
            client.execute()
            return nb, None
        client.km = client.create_kernel_manager()
        client.start_new_kernel()
        client.start_new_kernel_client()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        return nb, client
    finally:
        os.environ.clear()
        os.environ.update(old)


def _result(nb, index: int) -> dict:
    text = "".join(o.get("text", "") for o in nb.cells[index].outputs if o.get("output_type") == "stream")
    line = next(line for line in text.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def _gone(pid: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie child of a dead kernel counts as gone once nothing runs
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.2)
    return False


START = f"""
import json
from course_utils.evaluate import served, port_in_use
MODEL = {str(TINY_MODEL_DIR)!r}
"""


@pytest.mark.slow
def test_server_stops_after_a_failing_cell_and_when_the_kernel_dies(tmp_path):
    """Notebook 09 starts and stops the server in one `with` block: a cell that fails inside the block
    leaves no process and a free port. A server left running outside a `with` (a learner's own code)
    stops when its kernel dies (PR_SET_PDEATHSIG), so nothing outlives a kernel restart either."""
    env = {"COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(tmp_path / "out"), "TQDM_DISABLE": "1"}
    failing = """
with served(MODEL) as server:
    print("RESULT " + json.dumps({"port": server.port, "pid": server.process.pid, "up": port_in_use(server.port)}))
    raise RuntimeError("injected failure")
"""
    after = 'print("RESULT " + json.dumps({"in_use": port_in_use(server.port), "status": server.process.poll()}))'
    # A stand-in server for this part (the mechanism does not depend on what runs): Python's http.server
    # serving a folder with a file named `health`, so /health answers 200 at once.
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "health").write_text("ok")
    left_running = f"""
import sys
import course_utils.evaluate as evaluate
evaluate.serve_command = lambda model_dir, port, *args, **kwargs: [
    sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", {str(tmp_path / "www")!r}]
context = served(MODEL)  # kept in a variable: a context manager that is garbage-collected stops its server
server2 = context.__enter__()  # no with: only the kernel's death stops it
print("RESULT " + json.dumps({{"port": server2.port, "pid": server2.process.pid}}))
"""
    nb, client = _run_cells([START, failing, after, left_running], env, keep_kernel=True)
    try:
        started = _result(nb, 1)
        errors = [o for o in nb.cells[1].outputs if o.get("output_type") == "error"]
        assert errors and errors[0]["ename"] == "RuntimeError", "the injected failure is the cell's error"
        assert started["up"], "the server was answering inside the block"
        after_failure = _result(nb, 2)
        assert not after_failure["in_use"] and after_failure["status"] is not None, "the server has exited"
        assert _gone(started["pid"], 1) and not port_in_use(started["port"]), "no process is left on the port"
        second = _result(nb, 3)
        assert port_in_use(second["port"])
        os.kill(client.km.provisioner.pid, signal.SIGKILL)  # the kernel dies: no atexit, no finally runs
        assert _gone(second["pid"]), "the server outlived its kernel"
        assert not port_in_use(second["port"])
    finally:
        if client is not None:
            from nbclient.util import run_sync

            run_sync(client.km.shutdown_kernel)(now=True)


def test_server_reports_a_failed_start(tmp_path, monkeypatch):
    """A server that exits before answering /health: served() raises with its last log lines."""
    import sys

    from course_utils import evaluate

    (tmp_path / "config.json").write_text("{}")
    crash = [sys.executable, "-c", "import sys; print('no model here'); sys.exit(3)"]
    monkeypatch.setattr(evaluate, "serve_command", lambda *args, **kwargs: crash)
    with pytest.raises(evaluate.ServerError, match="exited with status 3") as error:
        with evaluate.served(tmp_path, timeout=60):
            pass
    assert "no model here" in str(error.value)


# ---------------------------------------------------------------------------------------------
# the judge reads its score from the very next token: the prompt must end where the digit's token begins

GPT2_FILES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gpt2"
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")  # Qwen2/2.5's pre-tokenizer: \p{N} alone, so ' 4' is ' ' + '4'
GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"  # ' 4' stays whole


def _small_bpe(split_pattern: str):
    """A byte-level BPE trained on a few judge replies, with the given pre-tokenizer regex."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    bpe.decoder = decoders.ByteLevel()
    replies = [f"Question: what is it? Answer given: a cat.\nScore: {v}\nScore (1-5): {v}" for v in range(1, 6)]
    bpe.train_from_iterator(replies * 20, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=bpe)


def _tokenizers():
    from transformers import AutoTokenizer

    found = {"one token ' 4' (GPT-2 regex)": (_small_bpe(GPT2_SPLIT), ""),
             "digits split from the space (Qwen2 regex)": (_small_bpe(QWEN2_SPLIT), " "),
             "the course's tiny model (digits split)": (AutoTokenizer.from_pretrained(TINY_MODEL_DIR), " ")}
    if (GPT2_FILES / "vocab.bpe").exists():  # GPT-2's real BPE, where the repository has it beside it
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        bpe = Tokenizer(models.BPE.from_file(str(GPT2_FILES / "encoder.json"), str(GPT2_FILES / "vocab.bpe")))
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # GPT-2's own regex
        bpe.decoder = decoders.ByteLevel()
        found["GPT-2's BPE"] = (PreTrainedTokenizerFast(tokenizer_object=bpe), "")
    return found


@pytest.fixture(scope="module")
def judge_tokenizers():
    return _tokenizers()


def test_the_two_tokenizer_kinds_really_differ(judge_tokenizers):
    """The premise: ' 4' is one token for GPT-2-style BPE, a space then a digit for Qwen-style splitting."""
    one, _ = judge_tokenizers["one token ' 4' (GPT-2 regex)"]
    split, _ = judge_tokenizers["digits split from the space (Qwen2 regex)"]
    assert one.tokenize(" 4") == ["Ġ4"]
    assert split.tokenize(" 4") == ["Ġ", "4"]


@pytest.mark.parametrize("kind", list(_tokenizers()))
def test_judge_prompt_ends_where_the_score_token_begins(judge_tokenizers, kind):
    """Both prompts, both tokenizer kinds: the judge's prompt followed by the score token we read is exactly
    the tokens of the prompt followed by its natural reply ' 4'. Reading one position early (at the space)
    would fail this."""
    from course_utils.evaluate import JUDGE_PROMPTS, judge_prompt, score_tokens

    tokenizer, expected_gap = judge_tokenizers[kind]
    for template in JUDGE_PROMPTS.values():
        prompt_end = template.rsplit("\n", 1)[1]
        gap, ids = score_tokens(tokenizer, prompt_end)
        assert gap == expected_gap
        assert score_tokens(tokenizer)[0] == gap  # 'Score:' and 'Score (1-5):' need the same gap
        prompt = judge_prompt(template, "What is the capital of Peru?", "Lima.", "Lima.") + gap
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        for value, token in enumerate(ids, start=1):
            assert tokenizer.decode([token]).strip() == str(value)
            natural = tokenizer(prompt.rstrip(" ") + f" {value}", add_special_tokens=False)["input_ids"]
            assert natural == head + [token], (kind, value)


def test_training_checkpoints_lists_complete_ones_in_step_order_and_warns_when_none(tmp_path):
    import warnings

    from course_utils.errors import CourseWarning
    from course_utils.evaluate import training_checkpoints

    for step in (60, 40, 20):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (60, 40):  # checkpoint-20 has no adapter weights: incomplete, left out
        (tmp_path / f"checkpoint-{step}" / "adapter_model.safetensors").write_bytes(b"x")
    (tmp_path / "checkpoint-final").mkdir()
    assert list(training_checkpoints(tmp_path)) == [40, 60]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert training_checkpoints(tmp_path / "missing") == {}
    assert any(issubclass(w.category, CourseWarning) and "notebook 06" in str(w.message) for w in caught)


def _ladder(**tuned):
    base = {"1 eval loss": 4.0, "2 follows the format": 0.25, "3 plain-text loss": 0.7,
            "3 course_capitals acc": 0.9, "3 course_prose word perplexity": 2.9}
    return {"base": base, "fine-tuned": {**{"1 eval loss": 1.0, "2 follows the format": 1.0, "2 copies a training answer": 0.8,
                                            "3 plain-text loss": 1.0,
                                            "3 course_capitals acc": 1.0, "3 course_prose word perplexity": 4.9},
                                         **tuned}}


def test_part_a_failures_lists_exactly_the_broken_claims():
    from course_utils.evaluate import part_a_failures

    steps = {0: {"1 eval loss": 4.0, "3 plain-text loss": 0.7}, 40: {"1 eval loss": 1.5, "3 plain-text loss": 0.9},
             60: {"1 eval loss": 1.0, "3 plain-text loss": 1.0}}
    assert part_a_failures(_ladder(), steps, judge_stands_in=True, learning_checks=True) == []
    assert part_a_failures(_ladder(), steps, judge_stands_in=False, learning_checks=False) == [
        "rung 4 belongs in the ladder only with a real judge"]
    assert part_a_failures(_ladder(**{"2 copies a training answer": 0.25}), steps, judge_stands_in=True,
                           learning_checks=True) == ["most of its answers copy a training answer"]
    broken = part_a_failures(_ladder(**{"3 plain-text loss": 0.5}), {**steps, 60: {"1 eval loss": 2.0,
                                                                                   "3 plain-text loss": 0.6}},
                             judge_stands_in=True, learning_checks=True)
    assert broken == ["3a shows the regression", "with more steps the eval loss falls",
                      "and every checkpoint's plain-text loss is above the base's"]
    # the regression need not grow at every checkpoint (on smoke it came with the early gain): above the base is enough
    assert part_a_failures(_ladder(), {**steps, 60: {"1 eval loss": 1.0, "3 plain-text loss": 0.85}},
                           judge_stands_in=True, learning_checks=True) == []


def test_card_failures_names_what_the_card_lacks():
    from course_utils.evaluate import card_failures

    card = "| measure | base |\n| 3 course_capitals acc | 1 |\ndata `sample`"
    assert card_failures(card, "sample", judge_stands_in=True) == []
    assert card_failures(card, "other", judge_stands_in=False) == [
        "rung 4 is in the card only with a real judge", "the card names the data this run trained on"]


def test_hub_blocker_names_why_nothing_is_uploaded(monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    from course_utils.evaluate import hub_blocker

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert "offline" in hub_blocker(push=True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert "login()" in hub_blocker(push=True)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_made_up")
    assert "push = True" in hub_blocker(push=False)
    assert hub_blocker(push=True) is None


def test_hub_errors_turns_an_upload_failure_into_one_course_error(tmp_path):
    from course_utils.errors import CourseError
    from course_utils.evaluate import HubError, hub_errors

    with pytest.raises(HubError) as info:
        with hub_errors(tmp_path):
            raise PermissionError("403 Forbidden: you do not have write access\nlong body")
    err = info.value
    assert isinstance(err, CourseError)
    assert "PermissionError: 403 Forbidden" in err.cause and "long body" not in err.cause
    assert str(tmp_path) in err.where and "write" in err.fix
    with hub_errors(tmp_path):  # nothing raised: nothing changed
        pass


def test_model_card_says_rule_scores_count_copied_answers():
    """Review: on smoke the fine-tuned models copied many training answers word for word; the card says that
    rung 2's rules cannot tell a copied answer from a read question, and adds the run's own share when given."""
    fields = dict(base_model=XGEN_ID, base_license="Apache-2.0", data="sample", data_license="Apache-2.0",
                  hyperparameters={}, evaluation=[{"measure": "2 copies a training answer", "chat": 0.5}],
                  intended_use="teaching")
    limits = model_card(**fields).split("## Limitations", 1)[1].split("## Prompt format", 1)[0]
    assert "copies a training answer" in limits and "word for word" in limits
    run = model_card(**fields, limitations="On this run, 50% of them.")
    assert "word for word; the row \"2 copies a training answer\" counts those answers. On this run, 50% of them." in run
