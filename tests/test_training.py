"""course_utils.training: the per-token eval loss equals a sum of token losses over the answer tokens,
and the callback records it at the steps asked for (the tiny model, a few rows, two steps)."""

import pytest
import torch
import torch.nn.functional as F

from course_utils.data import load_alpaca, to_prompt_completion
from course_utils.models import load_model, load_tokenizer
from course_utils.profile import get_profile
from course_utils.recipe import make_trainer
from course_utils.training import PerTokenEval, loss_per_token
from conftest import CPU


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    p = get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path_factory.mktemp("out"))})
    rows = to_prompt_completion(load_alpaca("sample", limit=48))
    t = make_trainer(p, load_model(p, CPU), load_tokenizer(p.model), rows.select(range(32)),
                     rows.select(range(32, 48)), hw=CPU, per_device_eval_batch_size=2, max_steps=2,
                     save_strategy="no", eval_strategy="no", logging_strategy="no", disable_tqdm=True)
    t.model.eval()
    return t


def test_loss_per_token_is_the_sum_of_token_losses_over_the_answer_tokens(trainer):
    packed = trainer.eval_dataset
    assert len(packed) > trainer.args.per_device_eval_batch_size  # more than one batch: the weighting matters
    total, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(len(packed)):  # one packed row at a time: no batching to weight
            inputs = trainer.data_collator([packed[i]])
            logits, targets = trainer.model(**inputs).logits[:, :-1].float(), inputs["labels"][:, 1:]
            total += F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="sum").item()
            tokens += int((targets != -100).sum())
    assert loss_per_token(trainer, packed) == pytest.approx(total / tokens, rel=1e-5)


def test_per_token_eval_records_the_steps_asked_for(trainer):
    measure = PerTokenEval(trainer, every=1)
    trainer.add_callback(measure)
    try:
        trainer.train()
    finally:
        trainer.remove_callback(measure)
    assert sorted(measure.points) == [1, 2]
    trainer.model.eval()
    assert measure.points[2] == pytest.approx(loss_per_token(trainer, trainer.eval_dataset), rel=1e-5)
