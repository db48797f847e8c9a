"""Nothing lost: an interrupted smoke run resumes at the same step with the same optimizer state;
outputs are written atomically."""

import pytest
import torch
from transformers import TrainerCallback

from course_utils.files import atomic_dir
from course_utils.profile import Hardware, get_profile
from course_utils.runs import resumable_checkpoint, run


class Interrupt(Exception):
    pass


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupt(f"simulated crash at step {self.step}")


class Record(TrainerCallback):
    """The step and optimizer state the run (re)starts with."""

    def __init__(self):
        self.start_step = None
        self.optimizer_steps = None

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        if self.start_step is None:
            self.start_step = state.global_step
            states = [s for s in optimizer.state_dict()["state"].values() if "step" in s]
            self.optimizer_steps = int(states[0]["step"]) if states else 0


@pytest.mark.slow
def test_interrupted_run_resumes_from_last_checkpoint(tmp_path):
    profile = get_profile(hardware=Hardware(cuda=False), env={"COURSE_OUTPUT_DIR": str(tmp_path)})
    profile = profile.replace(max_steps=12, save_steps=5, logging_steps=2, eval_steps=100)
    with pytest.raises(Interrupt):
        run(profile, callbacks=[StopAt(7)])
    checkpoint = resumable_checkpoint(profile.checkpoint_dir)
    assert checkpoint is not None and checkpoint.endswith("checkpoint-5")
    assert not (profile.adapter_dir / "adapter_config.json").exists()  # nothing half-finished

    saved = torch.load(f"{checkpoint}/optimizer.pt", weights_only=False)
    saved_steps = int(next(s["step"] for s in saved["state"].values() if "step" in s))
    record = Record()
    trainer = run(profile, callbacks=[record])
    assert record.start_step == 5 and record.optimizer_steps == saved_steps == 5
    assert trainer.state.global_step == 12
    assert (profile.adapter_dir / "adapter_config.json").is_file()
    assert resumable_checkpoint(profile.checkpoint_dir) is None  # finished: a rerun starts afresh


def test_atomic_dir_keeps_the_old_folder_on_failure(tmp_path):
    target = tmp_path / "adapter"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("v1")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("crash while saving")
    assert (target / "weights").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # no temporary folder left
