"""What the notebooks show while the libraries work (course_utils.progress, issue 17): the data and
weight-loading bars off, the training bar and the Hub's download bars on; integer token counts and
no "No log" table from an evaluate() outside training."""

from types import SimpleNamespace


def test_library_bars_are_off_and_download_bars_stay(course_kernel):
    """Read in the session's fresh smoke kernel (conftest.py): its first cell, QUIET_BARS, calls
    quiet_library_bars() before datasets and transformers are imported there, with none of the
    bar settings (HF_*_DISABLE_PROGRESS_BARS, TQDM_DISABLE) in its environment."""
    from conftest import KERNEL_START

    status, printed = KERNEL_START["bars"]
    assert status == "ok", printed
    assert printed.split() == ["False", "False", "True"]  # datasets off, transformers off, Hub downloads on


def test_notebook_display_shows_integer_tokens_and_no_table_outside_training(monkeypatch):
    from transformers.utils import notebook

    from course_utils.progress import _course_notebook_callback

    shown = []
    monkeypatch.setattr(notebook.disp, "display", lambda *a, **k: shown.append(a))
    callback = _course_notebook_callback()()
    args = SimpleNamespace(eval_strategy="steps")
    state = SimpleNamespace(log_history=[], global_step=0, epoch=0)
    metrics = {"eval_loss": 4.5, "eval_num_tokens": 101868.0, "eval_runtime": 0.1}
    callback.on_evaluate(args, state, None, metrics=metrics)  # evaluate() before train()
    assert shown == [] and metrics["eval_num_tokens"] == 101868 and isinstance(metrics["eval_num_tokens"], int)

    rows = []
    callback.training_tracker = SimpleNamespace(write_line=rows.append, remove_child=lambda: None)
    callback.on_evaluate(args, state, None, metrics={"eval_loss": 4.0, "eval_num_tokens": 512.0})  # during train()
    assert rows and rows[0]["Num Tokens"] == 512 and isinstance(rows[0]["Num Tokens"], int)


def test_tidy_progress_swaps_only_the_notebook_display(monkeypatch):
    from transformers import PrinterCallback
    from transformers.trainer_callback import CallbackHandler
    from transformers.utils.notebook import NotebookProgressCallback

    from course_utils.progress import _course_notebook_callback, tidy_progress

    def trainer_with(display):
        handler = CallbackHandler([display()], None, None, None, None)
        return SimpleNamespace(callback_handler=handler, remove_callback=handler.remove_callback,
                               add_callback=handler.add_callback)

    import transformers.trainer

    monkeypatch.setattr(transformers.trainer, "DEFAULT_PROGRESS_CALLBACK", NotebookProgressCallback)  # as in Jupyter
    trainer = tidy_progress(tidy_progress(trainer_with(NotebookProgressCallback)))  # twice: still one display
    assert [type(c) for c in trainer.callback_handler.callbacks] == [_course_notebook_callback()]
    assert transformers.trainer.DEFAULT_PROGRESS_CALLBACK is _course_notebook_callback()  # later trainers too
    script = tidy_progress(trainer_with(PrinterCallback))  # not in a notebook: unchanged
    assert [type(c) for c in script.callback_handler.callbacks] == [PrinterCallback]


def test_every_notebook_display_has_a_text_form(monkeypatch):
    """Read outside Jupyter (nbconvert to markdown, a text viewer), the trainer's outputs say what they
    show: the training bar with its metrics table as text, and an evaluate() outside training leaves a
    one-line summary; none is an IPython HTML object, whose text form is '<IPython.core.display.HTML object>'."""
    from transformers.utils import notebook

    from course_utils.progress import _course_notebook_callback

    outputs = {}

    class Handle:
        def __init__(self, shown):
            self.key = len(outputs)
            outputs[self.key] = shown

        def update(self, shown):
            outputs[self.key] = shown

    monkeypatch.setattr(notebook.disp, "display", lambda shown, display_id=None: Handle(shown))
    callback = _course_notebook_callback()()
    args = SimpleNamespace(eval_strategy="steps")
    state = SimpleNamespace(log_history=[], global_step=0, epoch=0, max_steps=2, num_train_epochs=1)
    loader = [0, 1, 2]
    for _ in loader:  # evaluate() before train()
        callback.on_prediction_step(args, state, None, eval_dataloader=loader)
    callback.on_evaluate(args, state, None, metrics={"eval_loss": 4.5})
    assert repr(outputs[0]).startswith("Evaluation: 3/3 batches in ")

    callback.on_train_begin(args, state, None)
    for step in (1, 2):
        state.global_step, state.epoch = step, step / 2
        state.log_history.append({"loss": 5.0 - step, "step": step})
        callback.on_step_end(args, state, None)
        callback.on_prediction_step(args, state, None, eval_dataloader=loader)
        callback.on_evaluate(args, state, None, metrics={"eval_loss": 4.0 - step, "eval_num_tokens": 512.0 * step})
    callback.on_train_end(args, state, None)
    assert len(outputs) == 2 and all(not isinstance(shown, notebook.disp.HTML) for shown in outputs.values())
    text = repr(outputs[1]).splitlines()
    assert text[0].startswith("Training [2/2") and text[1].split() == [
        "Step", "Training", "Loss", "Validation", "Loss", "Num", "Tokens"]
    assert text[2].split() == ["1", "4.000000", "3.000000", "512"] and text[3].split()[0] == "2"
    assert "<table" in outputs[1]._repr_html_()
