"""The before/after figure of notebook 07: the second panel carries another kind of row, from the
numbers it is given."""

import matplotlib

matplotlib.use("Agg")

from course_utils.plots import before_after, checkpoint_sweep  # noqa: E402


def test_before_after_draws_one_panel_by_default():
    figure = before_after({"correct": (0.1, 0.9)}, title="capital questions")
    assert len(figure.axes) == 1 and figure.axes[0].get_title() == "capital questions"


def test_before_after_adds_a_second_panel_for_another_kind_of_row(tmp_path):
    figure = before_after({"stopped at EOS": (0.0, 1.0), "correct": (0.0, 1.0)},
                          intervals={"stopped at EOS": ((0.0, 0.24), (0.76, 1.0)), "correct": ((0.0, 0.24), (0.76, 1.0))},
                          title="capital questions", also={"same as the reference": (0.0, 1 / 6)},
                          also_intervals={"same as the reference": ((0.0, 0.39), (0.03, 0.56))},
                          also_title="rows with an input", path=tmp_path / "before_after.png")
    left, right = figure.axes
    assert (left.get_title(), right.get_title()) == ("capital questions", "rows with an input")
    assert [t.get_text() for t in right.get_xticklabels()] == ["same as the reference"]
    assert [t.get_text() for t in right.texts] == ["0%", "17%"]  # base, fine-tuned: the shares it was given
    assert right.get_ylim() == left.get_ylim() == (0, 1.3)  # one scale for both kinds of row
    assert figure._suptitle.get_text() == "Before vs after fine-tuning"
    assert (tmp_path / "before_after.png").stat().st_size > 0


def test_checkpoint_sweep_draws_the_two_losses_on_their_own_axes(tmp_path):
    """Notebook 09: the task's eval loss on the left axis, the plain-text loss on the right, per step."""
    figure = checkpoint_sweep([0, 10, 20], [4.8, 2.4, 1.7], [0.67, 1.08, 1.26], path=tmp_path / "sweep.png")
    task_ax, prose_ax = figure.axes
    assert list(task_ax.get_lines()[0].get_ydata()) == [4.8, 2.4, 1.7]
    assert list(prose_ax.get_lines()[0].get_ydata()) == [0.67, 1.08, 1.26]
    assert task_ax.get_xlabel() == "training step" and len(task_ax.get_legend().get_texts()) == 2
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_before_after_writes_the_count_under_each_share():
    figure = before_after({"correct": (0.0, 1.0)}, intervals={"correct": ((0.0, 0.24), (0.76, 1.0))}, n=12,
                          also={"same as the reference": (0.0, 0.0)},
                          also_intervals={"same as the reference": ((0.0, 0.39), (0.0, 0.39))}, also_n=6)
    left, right = figure.axes
    assert [t.get_text() for t in left.texts] == ["0%\n0 of 12", "100%\n12 of 12"]
    assert [t.get_text() for t in right.texts] == ["0%\n0 of 6", "0%\n0 of 6"]  # a bar at 0 still reads as a result
    assert max(left.get_yticks()) == 1.0  # the axis is labelled up to 100 %, the rest is room for the labels
