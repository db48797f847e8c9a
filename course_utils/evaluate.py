"""Evaluate and ship (notebook 09): the plumbing around the calls the notebook writes out.

- :func:`answer_loss`: notebook 07's eval loss of the answer tokens, for any model;
- :func:`interval95`, :func:`difference_interval95`: notebook 07's Wilson interval for a share and
  Newcombe's interval for the difference of two shares (notebook 08 uses them);
- :func:`plain_passages`: plain text (no instruction) to measure what fine-tuning did outside its data;
- :data:`TASKS_DIR`: the course's lm-eval task (YAML + local jsonl), passed as ``include_path``;
- :func:`judge_prompt`, :func:`parse_score`: an LLM judge's prompt with a rubric, and its score read back;
- :func:`model_card`, :func:`data_name`: the README written beside the merged model, naming the data used;
- :func:`served`: ``transformers serve`` in a subprocess on a free loopback port, stopped on leaving
  the ``with`` block, whatever happened inside it (and at interpreter exit, and when the kernel dies).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chat import SYSTEM_PROMPT
from .errors import CourseError

TASKS_DIR = Path(__file__).parent / "assets" / "lm_eval_tasks"
CAPITALS_TASK = "course_capitals"  # the questions in the Alpaca template (the base and 06's model)
CHAT_CAPITALS_TASK = "course_capitals_chat"  # the same questions bare, for a chat template (08's model)
PROSE_TASK = "course_prose"  # plain prose scored token by token, as lm-eval's wikitext (rung 3a in the harness)


class ServerError(CourseError, RuntimeError):
    """The model server did not start, or did not answer."""


# ---------------------------------------------------------------------------------------------
# rung 1: eval loss (notebook 07 wrote this function out in a cell)

def answer_loss(model: Any, tokenizer: Any, rows: Any, batch_size: int = 8, max_length: int = 1024) -> float:
    """Average cross-entropy of the answer tokens (completion + EOS) of prompt/completion ``rows``:
    the label -100 on the prompt and the padding, as in training (notebook 07's ``answer_loss``).
    The computation is notebook 08's, for any prompt format: :func:`course_utils.chat.answer_loss`."""
    from .chat import answer_loss as loss_after_prompts

    return loss_after_prompts(model, tokenizer, list(rows["prompt"]), list(rows["completion"]),
                              max_length=max_length, batch_size=batch_size,
                              add_special_tokens=True)  # Alpaca text: encoded as trl encoded the training rows


def interval95(k: int, n: int) -> tuple[float, float]:
    """Wilson's 95 % interval for ``k`` successes in ``n`` tries (notebook 07 writes it out): it stays
    within 0-1, even for small ``n``."""
    z, p = 1.96, k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def difference_interval95(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """The difference of two shares, ``k2/n2 - k1/n1``, with Newcombe's 95 % interval, built from the
    two Wilson intervals (notebook 07 writes it out). It assumes independent samples: on the same rows
    asked twice, take it as a rough guide. Returns ``(difference, low, high)``."""
    p1, p2 = k1 / n1, k2 / n2
    (low1, high1), (low2, high2) = interval95(k1, n1), interval95(k2, n2)
    gap = p2 - p1
    return (gap, gap - math.sqrt((p2 - low2) ** 2 + (high1 - p1) ** 2),
            gap + math.sqrt((high2 - p2) ** 2 + (p1 - low1) ** 2))


# ---------------------------------------------------------------------------------------------
# rung 2: rule-based scores

def normalise(text: str) -> str:
    """Lower case, no punctuation, single spaces: 'The capital is  Lima.' -> 'the capital is lima'."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# rung 3: outside the fine-tuning data

def plain_passages(n: int = 8, seed: int = 7) -> list[str]:
    """``n`` passages of plain text, none of them an instruction: documents drawn the way the tiny
    model's pre-training text is (:func:`course_utils.sample_data.pretraining_texts`: facts about
    capitals, animals, opposites, sums, short guides, as running prose), in an order it never read;
    none equals a pre-training document. Notebook 09 measures each model's loss per token on them:
    what fine-tuning did to the base model's plain language."""
    import random

    from .sample_data import pretraining_texts

    seen = set(pretraining_texts())
    fresh = [doc for doc in pretraining_texts(seed=seed) if doc not in seen]
    return random.Random(seed).sample(fresh, n)


# the course's lm-eval task

def write_capitals_task(path: Path | None = None) -> Path:
    """Write ``course_capitals.jsonl``: the twelve held-out capital questions, bare (``instruction``,
    what ``course_capitals_chat`` puts in a chat's user turn) and in the Alpaca template (``prompt``,
    what ``course_capitals`` asks), each with four answer sentences (the right one and three other
    held-out capitals)."""
    from .data import format_prompt
    from .sample_data import CAPITAL_ANSWER, CAPITAL_INSTRUCTION, HELD_OUT_CAPITALS

    path = Path(path or TASKS_DIR / f"{CAPITALS_TASK}.jsonl")
    n = len(HELD_OUT_CAPITALS)
    lines = []
    for i, (country, capital) in enumerate(HELD_OUT_CAPITALS):
        others = [HELD_OUT_CAPITALS[(i + k) % n][1] for k in (1, 2, 3)]
        label = i % 4  # the right answer's place rotates
        cities = others[:label] + [capital] + others[label:]
        instruction = CAPITAL_INSTRUCTION.format(country=country)
        lines.append(json.dumps({
            "country": country, "capital": capital,
            "instruction": instruction,
            "prompt": format_prompt(instruction),
            "choices": [CAPITAL_ANSWER.format(country=country, capital=c) for c in cities],
            "label": label,
        }))
    path.write_text("\n".join(lines) + "\n")
    return path


def harness_scores(results: dict[str, Any], task: str = CAPITALS_TASK) -> dict[str, float]:
    """``{metric: value}`` of one task in what ``lm_eval.simple_evaluate`` returns (keys such as
    ``'acc,none'`` lose their filter name; standard errors are left out)."""
    scores = results["results"][task]
    return {key.split(",")[0]: value for key, value in scores.items()
            if "," in key and "_stderr" not in key and isinstance(value, (int, float))}


# ---------------------------------------------------------------------------------------------
# rung 4: an LLM judge

RUBRIC = """Score the answer from 1 to 5:
5: correct, complete and to the point;
4: correct, with a small omission or extra;
3: partly correct;
2: mostly wrong, but on topic;
1: wrong, off topic, empty or repeating itself."""

JUDGE_PROMPTS = {
    # prompt A: the rubric first, then the question, the reference and the answer
    "rubric first": ("You are grading the answer of an assistant.\n{rubric}\n\n"
                     "Question: {question}\nReference answer: {reference}\nAnswer to grade: {answer}\n\n"
                     "Reply with the score alone, as 'Score: N'.\nScore:"),
    # prompt B: the same content, the rubric last and the answer compared with the reference
    "compare to reference": ("Question: {question}\nA good answer: {reference}\nAnswer given: {answer}\n\n"
                             "How well does the given answer match the good answer?\n{rubric}\n"
                             "Score (1-5):"),
}


# A judge the learner can download, per profile: (hub id, what it costs). On smoke the course's tiny
# model stands in: it exercises the code, and its scores mean nothing.
JUDGES = {
    "colab": ("Qwen/Qwen2.5-3B-Instruct", "3.1 B parameters: 5.8 GiB (6.2 GB) in 16 bits, about the size of its download; Apache-2.0"),
    "gpu": ("Qwen/Qwen2.5-7B-Instruct", "7.6 B parameters: 14.2 GiB (15.2 GB) in 16 bits, about the size of its download; Apache-2.0"),
    "seed": ("Qwen/Qwen2.5-7B-Instruct", "7.6 B parameters: 14.2 GiB (15.2 GB) in 16 bits, about the size of its download; Apache-2.0"),
}


def judge_for(profile: Any) -> tuple[str, str]:
    """(model to load as judge, a note on it) for this profile."""
    if profile.uses_tiny_model or profile.name not in JUDGES:
        return profile.model, "the course's tiny model stands in: its scores mean nothing, only the code runs"
    return JUDGES[profile.name]


def score_tokens(tokenizer: Any, prompt_end: str = "Score:", low: int = 1,
                 high: int = 5) -> tuple[str, list[int]]:
    """How to read a judge's score from its very next token: ``(gap, ids)``.

    A judge writes its reply as 'Score: 4'. The prompt must stop exactly where the score's token begins:
    - where ' 4' is one token (GPT-2's BPE), the prompt ends with 'Score:' (``gap`` is '') and the score
      tokens are ' 1' ... ' 5';
    - where the tokenizer splits a digit from the space before it (Qwen2/2.5, Llama 3, the course's tiny
      model), the next token after 'Score:' would be ' ', so the prompt ends with 'Score: ' (``gap`` is ' ')
      and the score tokens are '1' ... '5'.
    Checked on the tokenizer itself: tokens(prompt_end + gap) + [ids[v]] == tokens(f"{prompt_end} {v}")."""
    def tokens(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    for gap in ("", " "):
        head = tokens(prompt_end + gap)
        ids = []
        for value in range(low, high + 1):
            whole = tokens(f"{prompt_end} {value}")
            if len(whole) == len(head) + 1 and whole[:-1] == head:
                ids.append(whole[-1])
        if len(ids) == high - low + 1:
            return gap, ids
    raise CourseError(f"the judge's tokenizer does not write the scores {low}-{high} after {prompt_end!r} "
                      "as one token each",
                      "use a judge whose tokenizer has single-digit tokens (most do), or generate a few tokens "
                      "and read the score with parse_score")


def judge_prompt(template: str, question: str, reference: str, answer: str, rubric: str = RUBRIC) -> str:
    """One judge prompt, filled in."""
    return template.format(rubric=rubric, question=question, reference=reference, answer=answer)


def parse_score(text: str, low: int = 1, high: int = 5) -> int | None:
    """The judge's score: the first whole number from ``low`` to ``high`` in its reply, read as a
    word on its own ('Score: 4', '4/5', '**4**'); None when there is none (count those: a judge that
    often replies without a score needs a better prompt, not a default value)."""
    for match in re.finditer(r"(?<![\d.])(\d+)(?![\d.]\d)", text):
        value = int(match.group(1))
        if low <= value <= high:
            return value
    return None


# ---------------------------------------------------------------------------------------------
# the model card

LICENCES = {"Salesforce/xgen-7b-8k-base": "Apache-2.0", "tatsu-lab/alpaca": "CC BY-NC 4.0"}


def licence_of(name: str, uses_tiny_model: bool = False) -> str:
    """The licence of a model or data set the course uses; 'unknown: check its page' otherwise."""
    if uses_tiny_model or name == "sample":
        return "Apache-2.0 (written for this course)"
    return LICENCES.get(name, "unknown: check its Hub page and write it here")

def data_name(data: str) -> str:
    """How a card names the data a run trained on (``profile.data``): a Hub id as it is; ``"sample"`` as
    the course's shipped file (``course_utils/assets/alpaca_sample.jsonl``); any other local file by its
    path in the repository or its own name, never an absolute path of the machine that wrote the card."""
    if data == "sample":
        from .data import SAMPLE_PATH

        data = str(SAMPLE_PATH)
    return portable_model_name(data)


def free_memory() -> None:
    """Give back the memory of deleted models now: Python's cycle collector, then CUDA's cache."""
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a course requirement
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A list of dicts (same keys) as a Markdown table; floats with 3 decimals."""
    keys = list(rows[0])
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) and not math.isnan(v) else ("n/a" if v is None or (
        isinstance(v, float) and math.isnan(v)) else str(v))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


# The card's "Prompt format": the format the shipped weights were trained on, and nothing else.
ALPACA_FORMAT = ("The Alpaca template: `Below is an instruction ... ### Instruction:\\n<text>\\n\\n### Response:\\n`; "
                 "the answer ends with the EOS token. The tokenizer has no chat template: send prompts to a "
                 "server's `/v1/completions`, not `/v1/chat/completions`.")
CHAT_FORMAT = ("The course's chat template, saved with the tokenizer (`tokenizer.chat_template`): an optional "
               "`### System:\\n<text>\\n\\n`, then `### User:\\n<text>\\n\\n` and `### Assistant:\\n`, after which "
               f"the model writes its answer and the EOS token. It was trained with the system turn '{SYSTEM_PROMPT}' "
               "Format messages with "
               "`tokenizer.apply_chat_template(messages, add_generation_prompt=True)`, or send them to a "
               "server's `/v1/chat/completions`, which applies the same template.")


def _is_hub_id(name: str) -> bool:
    """``owner/name`` that is not a folder here: a Hub id such as Salesforce/xgen-7b-8k-base."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", name) is not None and not Path(name).exists()


def portable_model_name(name: str) -> str:
    """How a card names a base model so that it means something on another machine: a Hub id as it is;
    a folder inside the course package by its path from the repository root
    (``course_utils/assets/tiny-llama``); any other local folder by its own name, never by an absolute
    path that exists only on the machine that wrote the card."""
    if _is_hub_id(name):
        return name
    path = Path(name).expanduser().resolve()
    package_root = Path(__file__).resolve().parent.parent  # the folder that holds course_utils/
    try:
        return path.relative_to(package_root).as_posix()
    except ValueError:
        return path.name


def model_card(*, base_model: str, base_license: str, data: str, data_license: str,
               hyperparameters: dict[str, Any], evaluation: Sequence[dict[str, Any]],
               intended_use: str, notes: str = "", title: str = "", prompt_format: str = ALPACA_FORMAT,
               limitations: str = "") -> str:
    """The README of the merged model: a Hub model card (YAML header, then Markdown). ``prompt_format``
    describes the format the merged weights were trained on (:data:`ALPACA_FORMAT`, :data:`CHAT_FORMAT`).
    ``limitations`` adds this run's own limits after the general one on copied answers."""
    non_commercial = "NC" in data_license.upper().replace("-", " ").split()  # CC BY-NC ...
    license_id = ("cc-by-nc-4.0" if non_commercial else
                  "apache-2.0" if "apache" in base_license.lower() else "other")
    hub_id = _is_hub_id(base_model)
    base_model = portable_model_name(base_model)  # never a path that exists only on this machine
    header = "\n".join([
        "---",
        f"license: {license_id}",
        f"base_model: {base_model}" if hub_id else "base_model: null",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [lora, sft, alpaca, finetune-llm-course]",
        "---",
    ])
    licence = (f"- **Base model:** `{base_model}`, licence {base_license}.\n"
               f"- **Fine-tuning data:** `{data}`, licence {data_license}.\n")
    if non_commercial:
        licence += ("- **Marked non-commercial, as a cautious reading:** the data is released under "
                    f"{data_license}. Whether a non-commercial term of the data reaches weights trained on it is "
                    "not settled; this card assumes it does, so use these weights for research and teaching "
                    "only, whatever the base model's own licence allows. Not legal advice: before any "
                    "commercial use, ask a lawyer.\n")
    params = "\n".join(f"| {k} | {v} |" for k, v in hyperparameters.items())
    limits = ("The rule-based scores (rung 2) check an answer's form and whether it matches the reference, not "
              "whether the model read the question. A fine-tuned model can pass them by repeating an answer from "
              'its training data word for word; the row "2 copies a training answer" counts those answers.'
              + (f" {limitations}" if limitations else ""))
    return f"""{header}

# {title or "LoRA fine-tune of " + base_model + ", merged"}

A LoRA adapter trained with trl's `SFTTrainer` and merged into the base weights
(`merge_and_unload`), saved in 16 bits (32 on a CPU), written by notebook 09 of the course
"Fine-tune an LLM with PyTorch". It loads with `AutoModelForCausalLM.from_pretrained` alone, without peft.

## Licences
{licence}
## Training hyperparameters
| setting | value |
|---|---|
{params}

## Evaluation
{markdown_table(evaluation)}

{notes}

## Intended use
{intended_use}

## Limitations
{limits}

## Prompt format
{prompt_format}
"""


def hub_blocker(push: bool) -> str | None:
    """Why notebook 09 will not upload to the Hub now, as a sentence with its fix; None when it can.

    Checked before any network call: the Hub offline (``HF_HUB_OFFLINE=1``), no saved token, or
    ``push`` left False."""
    import huggingface_hub
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "the Hub is offline here (HF_HUB_OFFLINE=1). Online, log in and set push = True."
    if huggingface_hub.get_token() is None:
        return "no Hugging Face token. Run huggingface_hub.login() (a token with write access), then set push = True."
    if not push:
        return "push is False. Set push = True to upload the folder to a private repository."
    return None


class HubError(CourseError, OSError):
    """Creating the repository or uploading to it failed (network, token rights, quota)."""


@contextmanager
def hub_errors(folder: str | os.PathLike) -> Iterator[None]:
    """Around notebook 09's ``create_repo`` + ``upload_folder``: a failure becomes one
    :class:`HubError` naming the folder and the library's message, with the fix."""
    try:
        yield
    except CourseError:
        raise
    except Exception as exc:
        raise HubError(
            f"the upload did not happen: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            "check the connection, then that your token has write access (huggingface_hub.login() with a "
            "'write' token) and re-run the cell; nothing is public, the repository is private.",
            where=f"sharing {folder}",
        ) from exc


# ---------------------------------------------------------------------------------------------
# serving: transformers serve in a subprocess

_RUNNING: set[subprocess.Popen] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    """In the child, before exec (Linux): get SIGKILL when the process that started it dies, so a
    kernel that crashes or is killed never leaves a server behind (it holds no state to save)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the server's process group, SIGKILL after ``grace`` seconds; then reap it."""
    if process.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    _RUNNING.discard(process)


@atexit.register
def _stop_all() -> None:
    for process in list(_RUNNING):
        _stop(process, grace=3.0)


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    port: int
    model: str  # the name requests must give (the folder it serves)
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def serve_command(model_dir: Path | str, port: int, device: str = "cpu", host: str = "127.0.0.1") -> list[str]:
    """The command line of ``transformers serve`` for one local model folder (FORCE_MODEL)."""
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if cli is None:
        raise ServerError("the `transformers` command is not installed",
                          "pip install 'transformers[serving]' (the course pins it in requirements.txt)")
    return [cli, "serve", str(model_dir), "--host", host, "--port", str(port), "--device", device,
            "--log-level", "warning"]


@contextmanager
def served(model_dir: Path | str, device: str = "cpu", port: int | None = None,
           timeout: float = 600.0) -> Iterator[Server]:
    """Start ``transformers serve`` on ``model_dir`` on 127.0.0.1 (a free port unless given), wait
    until ``/health`` answers, yield a :class:`Server`; stop it when the block ends, on an error too.

    Safety nets beyond the ``with`` block: the server is also stopped at interpreter exit (atexit),
    and on Linux it is killed when the process that started it dies (a kernel restart or crash)."""
    if not (Path(model_dir) / "config.json").is_file():
        from .errors import MissingArtifactError

        raise MissingArtifactError(f"no model to serve in {model_dir}",
                                   "run the merge cell first: it saves the merged model there")
    model_dir = str(model_dir)
    port = port or free_port()
    if port_in_use(port):
        raise ServerError(f"port {port} is already in use", "leave port=None: a free port is picked")
    handle, name = tempfile.mkstemp(prefix=f"course-serve-{port}-", suffix=".log")  # the server's output,
    os.close(handle)  # a scratch file outside the course's folders, removed when the server stops
    log = Path(name)
    command = serve_command(model_dir, port, device)
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True,  # its own process group
                                   preexec_fn=_die_with_parent)
    _RUNNING.add(process)
    server = Server(f"http://127.0.0.1:{port}", port, model_dir, process, log)
    try:
        _wait_healthy(server, timeout)
        yield server
    finally:
        _stop(process)
        try:
            log.unlink()
        except OSError:
            pass


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"`transformers serve` exited with status {server.process.returncode} before "
                              f"answering /health; its last lines:\n{server.log_tail()}",
                              "read the lines above; `pip install 'transformers[serving]'` if a module is missing")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    raise ServerError(f"`transformers serve` did not answer /health within {timeout:.0f} s",
                      f"a big model takes minutes to load: pass timeout=...; its last lines:\n{server.log_tail()}")


__all__ = ["portable_model_name", "CAPITALS_TASK", "CHAT_CAPITALS_TASK", "JUDGES", "JUDGE_PROMPTS", "LICENCES", "judge_for", "licence_of", "score_tokens", "RUBRIC", "Server", "ServerError", "TASKS_DIR", "answer_loss",
           "free_port", "harness_scores", "plain_passages", "judge_prompt", "markdown_table", "model_card", "normalise",
           "parse_score", "port_in_use", "serve_command", "served", "write_capitals_task",
           "data_name", "free_memory", "training_checkpoints", "part_a_failures", "card_failures",
           "PROSE_TASK", "ALPACA_FORMAT", "CHAT_FORMAT", "hub_blocker", "hub_errors", "HubError"]


# ---------------------------------------------------------------------------------------------
# Notebook 09: one setting varied (06's saved checkpoints), and the course checks as lists


def training_checkpoints(checkpoint_dir: Path | str) -> dict[int, Path]:
    """06's saved checkpoints that hold adapter weights, step -> folder, oldest first.

    None saved (notebook 06 not run here, or its checkpoints deleted): a
    :class:`~course_utils.errors.CourseWarning` that names notebook 06, and an empty dict, so the
    notebook goes on with the base alone instead of stopping."""
    from .errors import warn

    folder = Path(checkpoint_dir)
    found = {}
    for path in folder.glob("checkpoint-*") if folder.is_dir() else []:
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and (path / "adapter_model.safetensors").is_file():
            found[int(step)] = path
    if not found:
        warn(f"no saved training checkpoint in {folder}",
             "run notebook 06 (06_training.ipynb): its trainer saves its checkpoints there",
             where="notebook 09, one setting varied")
    return dict(sorted(found.items()))


def part_a_failures(ladder: dict[str, dict[str, float]], by_step: dict[int, dict[str, float]], *,
                    judge_stands_in: bool, learning_checks: bool) -> list[str]:
    """Part A's claims in notebook 09 that this run breaks, as sentences (empty: all hold).

    ``ladder``: model -> measure -> value; ``by_step``: training step -> measure -> value (step 0
    the base). The learning claims only where the profile's recipe is known to learn
    (``learning_checks``)."""
    failures = []
    has_judge = any(m.startswith("4 ") for scores in ladder.values() for m in scores)
    if has_judge == judge_stands_in:
        failures.append("rung 4 belongs in the ladder only with a real judge")
    if not learning_checks:
        return failures
    base, tuned = ladder["base"], ladder["fine-tuned"]
    claims = {
        "fine-tuning lowers the eval loss": tuned["1 eval loss"] < base["1 eval loss"],
        "and teaches the format": tuned["2 follows the format"] > base["2 follows the format"],
        "most of its answers copy a training answer": tuned["2 copies a training answer"] > 0.5,
        "3a shows the regression": tuned["3 plain-text loss"] > base["3 plain-text loss"],
        "3b's capitals task shows no regression":
            abs(tuned["3 course_capitals acc"] - base["3 course_capitals acc"]) <= 0.25,
        "3b's prose task shows the regression":
            tuned["3 course_prose word perplexity"] > base["3 course_prose word perplexity"],
    }
    steps = sorted(by_step)
    task = [by_step[s]["1 eval loss"] for s in steps]
    prose = [by_step[s]["3 plain-text loss"] for s in steps]
    claims["with more steps the eval loss falls"] = all(b < a for a, b in zip(task, task[1:]))
    claims["and every checkpoint's plain-text loss is above the base's"] = all(p > prose[0] for p in prose[1:])
    return failures + [claim for claim, holds in claims.items() if not holds]


def card_failures(readme: str, data: str, *, judge_stands_in: bool) -> list[str]:
    """What notebook 09's model card lacks, as sentences (empty: all there)."""
    claims = {
        "the card holds the evaluation table": "| measure |" in readme and "3 course_capitals acc" in readme,
        "rung 4 is in the card only with a real judge": ("| 4 judge" in readme) != judge_stands_in,
        "the card names the data this run trained on": f"`{data}`" in readme,
    }
    return [claim for claim, holds in claims.items() if not holds]
