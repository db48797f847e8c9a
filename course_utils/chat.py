"""The course's chat template for a base model, and conversations built from Alpaca rows (notebook 08;
notebook 09 serves with the template).

A base model such as XGen-7B-base or the course's tiny model has no chat template. Notebook 08 writes
this one out in a cell and explains each line; this module holds the same string, so that the script
mirror (``--format chat``), notebook 09 and the tests use one copy (a test ties the notebook's string
to this one).

A turn ends with the tokenizer's EOS: no new token, so no embedding row has to grow. The assistant's
text *and* its EOS sit inside ``{% generation %}`` so that trl's ``assistant_only_loss=True`` puts loss
on them, and on nothing else. :func:`check_chat_masks` checks that on prepared training rows, after
packing and truncation; notebook 08 first does the same by hand on one row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import load_alpaca
from .errors import CourseError

if TYPE_CHECKING:
    from datasets import Dataset

    from .profile import Profile

class BoundaryError(CourseError, ValueError):
    """The tokens of a prompt encoded alone are not the first tokens of the prompt and its answer
    encoded together: a loss that masks the prompt by its length would mask the wrong tokens."""


CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}{{ '### System:\\n' + message['content'] + '\\n\\n' }}"
    "{%- elif message['role'] == 'user' %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}"
    "{%- elif message['role'] == 'assistant' %}{{ '### Assistant:\\n' }}"
    "{%- generation %}{{ message['content'] + eos_token }}{%- endgeneration %}{{ '\\n\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '### Assistant:\\n' }}{%- endif %}"
)

# The header that opens each role's turn in CHAT_TEMPLATE (check_chat_masks reads the turns by them).
ROLE_HEADERS = {"system": "### System:\n", "user": "### User:\n", "assistant": "### Assistant:\n"}

# The system turn of the course's conversations: Alpaca's preamble, said once, as an instruction.
SYSTEM_PROMPT = "Write a response that appropriately completes the request."


def with_chat_template(tokenizer: Any, template: str = CHAT_TEMPLATE) -> Any:
    """Give ``tokenizer`` the course's chat template (in place) and return it."""
    tokenizer.chat_template = template
    return tokenizer


def to_messages(row: dict[str, Any], system: str | None = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """One Alpaca row as trl's conversational format: an optional system turn, the user's request
    (the instruction, then the input after a blank line when there is one), the assistant's answer."""
    request = row["instruction"]
    if (row.get("input") or "").strip():
        request += "\n\n" + row["input"]
    turns = [{"role": "system", "content": system}] if system else []
    return turns + [{"role": "user", "content": request}, {"role": "assistant", "content": row["output"]}]


def to_conversations(ds: Dataset, system: str | None = SYSTEM_PROMPT) -> Dataset:
    """A ``messages`` column (and nothing else) from Alpaca rows."""
    return ds.map(lambda row: {"messages": to_messages(row, system)}, remove_columns=ds.column_names)


FOLLOW_UPS_PATH = Path(__file__).parent / "assets" / "chat_follow_ups.jsonl"


def load_follow_ups(system: str | None = SYSTEM_PROMPT, path: str | Path = FOLLOW_UPS_PATH) -> Dataset:
    """The course's two-turn conversations (``assets/chat_follow_ups.jsonl``, written by
    ``python -m course_utils.sample_data``): a question, its answer, and a follow-up that needs the
    first turn ("And of Spain?"). A ``messages`` column, with the system turn in front."""
    from datasets import Dataset

    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    lead = [{"role": "system", "content": system}] if system else []
    return Dataset.from_dict({"messages": [lead + row["messages"] for row in rows]})


def _turns(conversations: Any, role: str = "user") -> list[set[str]]:
    """Per conversation, the texts of its turns of this ``role``."""
    return [{t["content"] for t in m if t["role"] == role} for m in conversations["messages"]]


def chat_train_eval_split(profile: Profile, system: str | None = SYSTEM_PROMPT) -> tuple[Dataset, Dataset]:
    """Conversations from the profile's data, split exactly like :func:`course_utils.data.train_eval_split`
    (same rows held out, same order, a held-out row whose request is also a training row's dropped), and
    the course's two-turn follow-ups added to the training side, except any that asks a held-out request
    or answers with a held-out reference ("And of hard?" would teach the answer to "What is the opposite
    of hard?")."""
    from datasets import concatenate_datasets

    from .data import check_split_size

    conversations = to_conversations(load_alpaca(profile.data, limit=profile.data_limit), system)
    check_split_size(len(conversations), profile.eval_rows, profile.data)
    split = conversations.train_test_split(test_size=profile.eval_rows, seed=0)
    train, held_out = split["train"], split["test"]
    trained = set().union(*_turns(train))
    held_out = held_out.select([i for i, asked in enumerate(_turns(held_out)) if not asked & trained])
    asked_held_out = set().union(*_turns(held_out))
    answered_held_out = set(last_answers(held_out))
    follow_ups = load_follow_ups(system)
    follow_ups = follow_ups.select([  # none may ask a held-out question or give a held-out answer
        i for i, (asked, said) in enumerate(zip(_turns(follow_ups), _turns(follow_ups, "assistant")))
        if not asked & asked_held_out and not said & answered_held_out])
    return concatenate_datasets([train, follow_ups]), held_out


def drop_prompt_only(conversations: Dataset, tokenizer: Any, max_length: int) -> Dataset:
    """Drop the conversations whose system and user turns alone, up to the first answer, fill ``max_length``
    tokens: cut there, nothing of an answer is left, and trl keeps such a conversation in a packed row
    that carries no loss at all. Longer conversations whose first answer starts in time stay: they are
    cut, losing their end and its EOS, as notebook 06's long rows are (notebook 08 writes this out)."""
    prompts = [m[:next(i for i, t in enumerate(m) if t["role"] == "assistant")] for m in conversations["messages"]]
    rendered = tokenizer.apply_chat_template(prompts, tokenize=True, add_generation_prompt=True)["input_ids"]
    return conversations.select([i for i, ids in enumerate(rendered) if len(ids) < max_length])


def chat_prompts(conversations: Any, tokenizer: Any) -> list[str]:
    """Each conversation without its last (assistant) turn, rendered with the generation prompt:
    what a chat model is asked at inference."""
    return [tokenizer.apply_chat_template(m[:-1], tokenize=False, add_generation_prompt=True)
            for m in conversations["messages"]]


def last_answers(conversations: Any) -> list[str]:
    """The text of each conversation's last turn (the reference answer)."""
    return [m[-1]["content"] for m in conversations["messages"]]


# ---------------------------------------------------------------- the loss mask, checked


def _segments(row: dict[str, Any]) -> list[tuple[int, int]]:
    """(start, end) of each example in a prepared row: one, or several in a packed row."""
    lengths = row.get("seq_lengths") or [len(row["input_ids"])]
    bounds, start = [], 0
    for n in lengths:
        bounds.append((start, start + n))
        start += n
    return bounds


def token_roles(ids: list[int], tokenizer: Any, headers: dict[str, str] = ROLE_HEADERS) -> list[str]:
    """The role of each token of one rendered conversation ('system', 'user', 'assistant', or '' before
    the first header), read from the text: a token belongs to the turn whose header starts at or before
    its last character (a token that runs into the next header, such as the blank line before it, belongs
    to that next turn)."""
    pieces = tokenizer.batch_decode([[i] for i in ids])
    ends, end = [], 0
    for piece in pieces:
        end += len(piece)
        ends.append(end)
    text = "".join(pieces)
    pattern = "|".join(re.escape(h.rstrip("\n")) for h in headers.values())
    names = {h.rstrip("\n"): role for role, h in headers.items()}
    starts = [(m.start(), names[m.group(0)]) for m in re.finditer(pattern, text)]
    roles, k, current = [], 0, ""
    for end in ends:
        while k < len(starts) and starts[k][0] < end:
            current = starts[k][1]
            k += 1
        roles.append(current)
    return roles


def check_chat_masks(dataset: Any, tokenizer: Any, max_length: int | None = None) -> dict[str, Any]:
    """Check the loss mask of every prepared training row (``trainer.train_dataset``: packed or not,
    truncated or not): in every row some tokens carry loss (a label other than -100), every EOS carries
    loss, every assistant turn that was not cut at ``max_length`` ends with an EOS, and no system or user
    token carries loss. Returns counts and a list of ``problems`` (empty when all holds)."""
    eos = tokenizer.eos_token_id
    problems: list[str] = []
    counts = {"rows": len(dataset), "conversations": 0, "cut": 0, "tokens": 0, "tokens_with_loss": 0,
              "assistant_turns": 0, "eos_with_loss": 0}
    for index, row in enumerate(dataset):
        ids, labels = row["input_ids"], row["labels"]
        counts["tokens"] += len(ids)
        trained = [label != -100 for label in labels]
        counts["tokens_with_loss"] += sum(trained)
        if not any(trained):
            problems.append(f"row {index}: no token carries loss")
        for start, end in _segments(row):
            counts["conversations"] += 1
            seg = ids[start:end]
            roles = token_roles(seg, tokenizer)
            cut = max_length is not None and end - start >= max_length
            counts["cut"] += cut
            for pos, (token, role, loss) in enumerate(zip(seg, roles, trained[start:end])):
                where = f"row {index}, token {start + pos} ({tokenizer.decode([token])!r}, {role or 'no'} turn)"
                if loss and role in ("system", "user"):
                    problems.append(f"{where}: a {role} token carries loss")
                if token == eos:
                    counts["eos_with_loss"] += loss
                    if not loss:
                        problems.append(f"{where}: the end-of-turn token carries no loss")
            turns = sum(1 for a, b in zip([""] + roles, roles) if b == "assistant" and a != "assistant")
            counts["assistant_turns"] += turns
            ended = sum(1 for token, role in zip(seg, roles) if token == eos and role == "assistant")
            if not cut and ended < turns:
                problems.append(f"row {index}: {turns} assistant turn(s) but {ended} end with EOS")
    counts["problems"] = problems
    return counts


def show_mask(ids: list[int], labels: list[int], tokenizer: Any) -> str:
    """The tokens of a row as text, each run of tokens that carry loss (label not -100) between
    ``⟦ ⟧``, as notebook 08 prints its mask by hand; EOS written out as ``</s>``-style text. Plain
    text, no terminal colour codes, so it reads the same in every front-end and in a saved notebook."""
    out, in_loss = [], False
    for token, label in zip(ids, labels):
        if (label != -100) != in_loss:  # a run of tokens with loss starts or ends here
            in_loss = not in_loss
            out.append("⟦" if in_loss else "⟧")
        out.append(tokenizer.decode([token]))
    return "".join(out) + ("⟧" if in_loss else "")


def _answer_batch(tokenizer: Any, prompts: list[str], answers: list[str], max_length: int,
                  add_special_tokens: bool, device: Any) -> tuple[Any, Any]:
    """``prompt + answer + EOS`` encoded, padded on the right, and labels with -100 on each prompt's
    tokens and on the padding. Raises :class:`BoundaryError` when a prompt's tokens are not where
    the row's first tokens are: the loss would then score part of the prompt or skip part of the answer."""
    texts = [p + a + tokenizer.eos_token for p, a in zip(prompts, answers)]
    inputs = tokenizer(texts, return_tensors="pt", padding=True, padding_side="right", truncation=True,
                       max_length=max_length, add_special_tokens=add_special_tokens).to(device)
    labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
    for i, prompt in enumerate(prompts):
        prompt_ids = tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"][:max_length]
        check_answer_boundary(prompt_ids, inputs["input_ids"][i].tolist(), tokenizer, where=f"row {i} of the batch")
        labels[i, :len(prompt_ids)] = -100
    return inputs, labels


def check_answer_boundary(prompt_ids: list[int], row_ids: list[int], tokenizer: Any, where: str = "") -> None:
    """The prompt's tokens (encoded alone, cut at the row's length) must be the first tokens of the
    row that encodes ``prompt + answer``: only then do the labels -100 on the first ``len(prompt_ids)``
    tokens cover the prompt and nothing of the answer. It fails when the tokenizer merges the
    prompt's last characters with the answer's first ones (a prompt ending in a space or in half a
    word), or adds a token at the end of every text."""
    row_ids = list(row_ids)
    if row_ids[:len(prompt_ids)] == list(prompt_ids)[:len(row_ids)]:
        return
    at = next((k for k, (a, b) in enumerate(zip(prompt_ids, row_ids)) if a != b),
              min(len(prompt_ids), len(row_ids)))  # the first differing token, else where the shorter ends
    alone = tokenizer.decode(list(prompt_ids[at:at + 3]))
    joined = tokenizer.decode(row_ids[at:at + 3])
    raise BoundaryError(
        f"the prompt's tokens are not the first tokens of prompt + answer: token {at} is {alone!r} in the "
        f"prompt alone but {joined!r} once the answer follows, so the loss would not start where the answer does",
        where=f"{where}, token {at} of {len(prompt_ids)} prompt tokens".lstrip(", "),
        fix="end every prompt where a token ends: with a newline, as the course's templates do (not with a "
            "space or half a word), and put the space at the start of the answer instead; and encode prompt and "
            "prompt + answer with the same add_special_tokens (a tokenizer that appends EOS to every text "
            "needs add_special_tokens=False)")


def answer_loss(model: Any, tokenizer: Any, prompts: list[str], answers: list[str],
                max_length: int = 1024, batch_size: int = 8, add_special_tokens: bool = False) -> float:
    """Average cross-entropy of the answer tokens (answer + EOS) after each prompt, whatever the
    prompt's format (notebook 07's eval loss, for an Alpaca prompt or a rendered chat prompt).
    ``add_special_tokens`` as the training rows were encoded: False for a rendered chat template,
    True for an Alpaca text (trl encodes a text row with the tokenizer's defaults)."""
    import torch

    total, count = 0.0, 0
    for start in range(0, len(prompts), batch_size):
        inputs, labels = _answer_batch(tokenizer, prompts[start:start + batch_size], answers[start:start + batch_size],
                                       max_length, add_special_tokens, model.device)
        scored = (labels[:, 1:] != -100).sum().item()
        with torch.no_grad():
            total += model(**inputs, labels=labels).loss.item() * scored
        count += scored
    return total / max(count, 1)


def answer_losses(model: Any, tokenizer: Any, prompts: list[str], answers: list[str],
                  max_length: int = 1024, batch_size: int = 8,
                  add_special_tokens: bool = False) -> list[tuple[float, int]]:
    """:func:`answer_loss` row by row: for each prompt, the summed cross-entropy of its answer tokens
    (answer + EOS) and their count. ``sum(losses) / sum(counts)`` is :func:`answer_loss`; the rows
    apart let a notebook see how the loss spreads over them (08's bootstrap of a difference)."""
    import torch
    import torch.nn.functional as F

    rows: list[tuple[float, int]] = []
    for start in range(0, len(prompts), batch_size):
        inputs, labels = _answer_batch(tokenizer, prompts[start:start + batch_size], answers[start:start + batch_size],
                                       max_length, add_special_tokens, model.device)
        with torch.no_grad():
            logits = model(**inputs).logits[:, :-1].float()
        targets = labels[:, 1:]
        token_loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="none")
        rows += [(float(loss), int(n)) for loss, n in zip(token_loss.sum(dim=1).tolist(),
                                                            (targets != -100).sum(dim=1).tolist())]
    return rows


__all__ = ["CHAT_TEMPLATE", "ROLE_HEADERS", "SYSTEM_PROMPT", "BoundaryError", "answer_loss", "answer_losses",
           "chat_prompts", "chat_train_eval_split", "check_answer_boundary", "check_chat_masks", "drop_prompt_only",
           "last_answers", "load_follow_ups", "show_mask", "to_conversations", "to_messages", "token_roles", "with_chat_template"]
