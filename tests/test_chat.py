"""Notebook 08's chat format: the template, the conversations, and the loss-mask check.

``check_chat_masks`` must hold for the course's template, on packed and on unpacked (truncated) rows,
and must find the two broken templates learners meet: a generation block that leaves the EOS out (the
model never learns to stop) and one that wraps the user's turn too (it trains on the prompt).
"""

import pytest

from course_utils import get_profile
from course_utils.chat import (CHAT_TEMPLATE, chat_train_eval_split, check_chat_masks, to_messages,
                               with_chat_template)
from course_utils.data import train_eval_split

EOS_OUTSIDE = CHAT_TEMPLATE.replace("{{ message['content'] + eos_token }}{%- endgeneration %}",
                                    "{{ message['content'] }}{%- endgeneration %}{{ eos_token }}")
USER_INSIDE = CHAT_TEMPLATE.replace(
    "{%- elif message['role'] == 'user' %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}",
    "{%- elif message['role'] == 'user' %}{%- generation %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}"
    "{%- endgeneration %}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from course_utils.models import load_model, load_tokenizer

    profile = get_profile("smoke").replace(output_dir=tmp_path_factory.mktemp("out"), format="chat")
    train, _ = chat_train_eval_split(profile)
    return profile, load_model(profile), load_tokenizer(profile.model), train.select(range(48))


def _prepared(setup, template, **overrides):
    from trl import SFTTrainer

    from course_utils.recipe import sft_config

    profile, model, tokenizer, train = setup
    tokenizer = with_chat_template(tokenizer, template)
    if "max_length" in overrides:  # cut answers, but keep no conversation whose first prompt fills a row:
        first = [m[:next(i for i, t in enumerate(m) if t["role"] == "assistant")] for m in train["messages"]]
        prompts = tokenizer.apply_chat_template(first, tokenize=True, add_generation_prompt=True)["input_ids"]
        train = train.select([i for i, ids in enumerate(prompts) if len(ids) < overrides["max_length"] - 4])
    args = sft_config(profile, eval=False, **overrides)
    return SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer).train_dataset


def test_broken_templates_differ_from_the_course_template():
    assert EOS_OUTSIDE != CHAT_TEMPLATE and USER_INSIDE != CHAT_TEMPLATE


@pytest.mark.parametrize("packing,max_length", [(True, 256), (True, 96), (False, 96)])
def test_masks_hold_for_the_course_template_packed_and_truncated(setup, packing, max_length):
    _, _, tokenizer, _ = setup
    rows = _prepared(setup, CHAT_TEMPLATE, packing=packing, max_length=max_length)
    report = check_chat_masks(rows, tokenizer, max_length=max_length)
    assert report["problems"] == []
    assert report["eos_with_loss"] > 0 and report["tokens_with_loss"] < report["tokens"]
    if max_length == 96:
        assert report["cut"] > 0, "max_length=96 cuts some answers (and their EOS)"
    else:
        assert report["conversations"] > report["rows"], "packed rows hold several conversations"


def test_masks_fail_when_the_eos_is_outside_the_generation_block(setup):
    _, _, tokenizer, _ = setup
    report = check_chat_masks(_prepared(setup, EOS_OUTSIDE), tokenizer)
    assert any("end-of-turn token carries no loss" in p for p in report["problems"])


def test_masks_fail_when_the_user_turn_is_inside_the_generation_block(setup):
    _, _, tokenizer, _ = setup
    report = check_chat_masks(_prepared(setup, USER_INSIDE), tokenizer)
    assert any("a user token carries loss" in p for p in report["problems"])


def test_conversations_hold_out_the_rows_notebook_06_holds_out():
    profile = get_profile("smoke")
    _, alpaca_eval = train_eval_split(profile)
    _, chat_eval = chat_train_eval_split(profile)
    assert [m[-1]["content"] for m in chat_eval["messages"]] == alpaca_eval["completion"]


def test_messages_and_the_rendered_template():
    from course_utils.models import load_tokenizer

    messages = to_messages({"instruction": "Name a bird.", "input": "", "output": "A sparrow."})
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    tokenizer = with_chat_template(load_tokenizer(get_profile("smoke").model))
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text.endswith("### Assistant:\nA sparrow." + tokenizer.eos_token + "\n\n")
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("### User:\nName a bird.\n\n### Assistant:\n") and text.startswith(prompt)


def test_the_recipes_chat_variant(tmp_path):
    """``--format chat``: one more SFTConfig option, its own folders, and a clear error without a template."""
    from course_utils.errors import ConfigError
    from course_utils.finetune import main
    from course_utils.models import load_tokenizer
    from course_utils.recipe import make_trainer, sft_config

    profile = get_profile("smoke").replace(output_dir=tmp_path)
    chat = profile.replace(format="chat")
    assert sft_config(chat).assistant_only_loss and not sft_config(profile).assistant_only_loss
    assert sft_config(chat).output_dir == str(tmp_path / "checkpoints-chat")
    assert chat.adapter_dir == chat.chat_adapter_dir == tmp_path / "adapter-chat" != profile.adapter_dir
    with pytest.raises(ConfigError, match="with_chat_template"):
        make_trainer(chat, None, load_tokenizer(chat.model), None)
    with pytest.raises(SystemExit):
        main(["--format", "sharegpt"])


def test_prompts_are_encoded_as_trl_encoded_the_training_rows(setup):
    """With a tokenizer that adds BOS, trl puts it in front of an Alpaca text row (the tokenizer's
    defaults) but not in front of a rendered conversation (the template writes every token). The
    course's encoders follow: add_special_tokens=True for Alpaca text (07, ``ask``, 08's Alpaca side),
    False for a rendered chat template; the loss then scores the same answer tokens either way."""
    import copy

    from trl import SFTConfig, SFTTrainer

    from course_utils.chat import answer_loss, answer_losses
    from course_utils.evaluate import answer_loss as rows_loss

    profile, model, tokenizer, _ = setup
    bos = copy.deepcopy(tokenizer)
    bos.bos_token, bos.add_bos_token = bos.eos_token, True  # as 08's "double BOS" cell does
    _, rows = train_eval_split(profile)
    rows = rows.select(range(2))
    args = SFTConfig(output_dir=str(profile.output_dir / "bos"), packing=False, report_to="none", use_cpu=True,
                     max_length=profile.max_length)
    trained = SFTTrainer(model=model, args=args, train_dataset=rows, processing_class=bos).train_dataset
    first = trained[0]["input_ids"]
    assert first[0] == bos.bos_token_id  # trl: an Alpaca text row starts with the tokenizer's BOS
    assert first[:len(bos(rows[0]["prompt"], add_special_tokens=True)["input_ids"])] == \
        bos(rows[0]["prompt"], add_special_tokens=True)["input_ids"]  # the prompt, encoded as 07 encodes it
    chat = with_chat_template(copy.deepcopy(bos), CHAT_TEMPLATE)
    rendered = chat.apply_chat_template([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                                        tokenize=True)
    assert rendered["input_ids"][0] != bos.bos_token_id  # a template adds nothing: encode with False
    with_bos = answer_loss(model, bos, rows["prompt"], rows["completion"], add_special_tokens=True)
    assert rows_loss(model, bos, rows) == with_bos  # evaluate's prompt/completion loss: Alpaca text, with BOS
    assert with_bos != answer_loss(model, bos, rows["prompt"], rows["completion"])  # False drops the BOS
    per_row = answer_losses(model, bos, rows["prompt"], rows["completion"], add_special_tokens=True)
    assert sum(loss for loss, _ in per_row) / sum(n for _, n in per_row) == pytest.approx(with_bos, rel=1e-5)  # 08's rows


def test_answer_loss_checks_that_the_answer_starts_after_the_prompts_tokens(setup):
    """The loss masks each prompt by the length of its tokens encoded alone: that is only right when
    those tokens are the first tokens of prompt + answer. A prompt ending in a space breaks it (the
    space merges with the answer's first word), and answer_loss says so with a course error."""
    from course_utils.chat import BoundaryError, answer_loss, answer_losses, check_answer_boundary
    from course_utils.errors import CourseError

    _, model, tokenizer, _ = setup
    good = ["### Response:\n"], ["The capital of Peru is Lima."]
    assert answer_loss(model, tokenizer, *good) > 0  # a prompt ending in a newline: the boundary holds
    bad = ["The capital of Peru is "], ["Lima."]  # ' ' + 'Lima' encode as one token ' Lima'
    for loss in (answer_loss, answer_losses):
        with pytest.raises(BoundaryError, match="not the first tokens of prompt \\+ answer") as error:
            loss(model, tokenizer, *bad)
        assert isinstance(error.value, CourseError) and "row 0 of the batch" in error.value.where
        assert "newline" in error.value.fix and "space" in error.value.fix
    prompt = tokenizer("Q:\n", add_special_tokens=False)["input_ids"]
    check_answer_boundary(prompt, prompt + [5, tokenizer.eos_token_id], tokenizer)  # a prefix: no error
    check_answer_boundary(prompt, prompt[:2], tokenizer)  # a row cut inside the prompt: still a prefix
    with pytest.raises(BoundaryError, match="token 3"):  # a tokenizer that appends EOS to the prompt alone
        check_answer_boundary(prompt + [tokenizer.eos_token_id], prompt + [5, tokenizer.eos_token_id], tokenizer)


def test_show_mask_is_plain_text():
    """solutions/08 prints show_mask: brackets only, no terminal colour codes in a saved notebook."""
    from types import SimpleNamespace

    from course_utils.chat import show_mask

    tokenizer = SimpleNamespace(decode=lambda ids: "".join(f"<{i}>" for i in ids))
    assert show_mask([1, 2, 3, 4], [-100, 2, 3, -100], tokenizer) == "<1>⟦<2><3>⟧<4>"
    assert show_mask([1, 2], [-100, 2], tokenizer) == "<1>⟦<2>⟧"
    assert "\x1b" not in show_mask([1, 2], [1, 2], tokenizer)


def test_no_follow_up_asks_or_answers_a_held_out_row():
    """A follow-up such as "And of hard?" -> "The opposite of hard is soft." would teach the reference answer of
    the held-out row "What is the opposite of hard?": such follow-ups stay out of the training side."""
    train, held_out = chat_train_eval_split(get_profile("smoke").replace(format="chat"))
    asked = {m[-2]["content"] for m in held_out["messages"]}
    answers = {m[-1]["content"] for m in held_out["messages"]}
    two_turn = [m for m in train["messages"] if len(m) == 5]
    assert len(two_turn) >= 20
    for m in two_turn:
        assert not {t["content"] for t in m if t["role"] == "user"} & asked, m
        assert not {t["content"] for t in m if t["role"] == "assistant"} & answers, m
