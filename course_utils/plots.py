"""Figures: length histograms (notebook 03), the LoRA drawing (05), the loss curve, the
learning-rate schedule and the experiment (06), before and after (07), the checkpoint sweep (09).

Each function draws, saves the figure under the profile's ``figures/`` folder (atomically),
shows it in the notebook and returns the matplotlib figure.

Showing does not depend on the matplotlib backend: inside a Jupyter kernel the figure is sent to
the front-end as a PNG image output and closed, so it appears exactly once, also when the kernel
runs with ``MPLBACKEND=Agg`` (the test environment). Assign the result (``figure = ...``) rather
than ending a cell with it, or Jupyter's inline backend would show it a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .files import atomic_savefig


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (a front-end is listening), False in a script or a plain shell."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show(fig: Any) -> Any:
    """Send the figure to the notebook as a PNG image output, then close it (no second copy)."""
    if _in_notebook():
        import base64
        import io

        import matplotlib.pyplot as plt
        from IPython.display import display

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        png = base64.b64encode(buffer.getvalue()).decode("ascii")
        display({"image/png": png, "text/plain": repr(fig)}, raw=True)
        plt.close(fig)
    return fig


def _finish(fig: Any, path: Path | None) -> Any:
    """Every figure's last step: tight layout, saved atomically when ``path`` is given, then shown."""
    fig.tight_layout()
    if path is not None:
        atomic_savefig(fig, path)
    return _show(fig)


def length_histograms(chars: Sequence[int], tokens: Sequence[int], max_length: int,
                      path: Path | None = None, bins: int = 50) -> Any:
    """Left: each row as a point, characters against tokens, with ``max_length`` as the limit it is (tokens)
    and as the 2024 view read it (characters). Right: the histogram of token lengths."""
    import matplotlib.pyplot as plt
    import numpy as np

    chars, tokens = np.asarray(chars), np.asarray(tokens)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.scatter(chars, tokens, s=10, alpha=0.6, color="tab:green")
    left.axhline(max_length, color="tab:red", linestyle="--", label=f"max_length = {max_length} tokens (cut above)")
    left.axvline(max_length, color="tab:gray", linestyle=":", label=f"{max_length} read as characters (2024 view)")
    left.set(title="Each row: characters and tokens", xlabel="characters", ylabel="tokens, EOS included")
    right.hist(tokens, bins=bins, color="tab:green")
    right.axvline(max_length, color="tab:red", linestyle="--", label=f"max_length = {max_length} tokens")
    right.set(title="Length in tokens", xlabel="tokens", ylabel="rows")
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    return _finish(fig, path)


def loss_curve(history: Sequence[dict[str, float]], path: Path | None = None,
               loss_label: str = "training loss", eval_label: str = "eval loss",
               eval_style: str = "--s", ylabel: str = "cross-entropy") -> Any:
    """Training loss (and eval loss, where logged) against the optimizer step. ``loss_label`` names the
    training-loss line, e.g. what each logged point averages; ``eval_label`` the eval points (which loss,
    and, with the default dashed ``eval_style``, that its dashes only join the evaluated steps);
    ``eval_style="s"`` marks them without a line; ``ylabel`` names the measure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, style, label in (("loss", "-o", loss_label), ("eval_loss", eval_style, eval_label)):
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            ax.plot(*zip(*points), style, label=label)
    ax.set(title="Loss during fine-tuning", xlabel="optimizer step", ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def _before_after_bars(ax: Any, scores: dict[str, tuple[float, float]],
                       intervals: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None,
                       n: int | None = None) -> None:
    """One panel of :func:`before_after`: base and fine-tuned bars per metric, whiskers, shares on top
    (with ``n``, the count too: "0 of 6", so that a bar at 0 still reads as a result)."""
    names = list(scores)
    width = 0.38
    for offset, label, idx, color in ((-width / 2, "base", 0, "tab:gray"),
                                      (width / 2, "fine-tuned", 1, "tab:blue")):
        values = [scores[name][idx] for name in names]
        xs = [i + offset for i in range(len(names))]
        bars = ax.bar(xs, values, width, label=label, color=color)
        texts = [f"{v:.0%}" + (f"\n{round(v * n)} of {n}" if n else "") for v in values]
        if intervals:
            low = [max(0.0, values[k] - intervals[name][idx][0]) for k, name in enumerate(names)]  # rounding: never < 0
            high = [max(0.0, intervals[name][idx][1] - values[k]) for k, name in enumerate(names)]
            ax.errorbar(xs, values, yerr=[low, high], fmt="none", ecolor="black", capsize=4)
            for x, text, name in zip(xs, texts, names):  # the share, above its whisker
                ax.text(x, intervals[name][idx][1] + 0.02, text, ha="center", va="bottom")
        else:
            ax.bar_label(bars, labels=texts)
    ax.set_xticks(range(len(names)), names)
    ax.set_xlim(-0.6, len(names) - 0.4)


def before_after(scores: dict[str, tuple[float, float]], path: Path | None = None,
                 intervals: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None = None,
                 title: str = "Before vs after fine-tuning",
                 also: dict[str, tuple[float, float]] | None = None,
                 also_intervals: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None = None,
                 also_title: str = "", n: int | None = None, also_n: int | None = None) -> Any:
    """Grouped bars: for each metric name, (base, fine-tuned) as shares between 0 and 1; with
    ``intervals`` ({name: ((low, high) of base, (low, high) of fine-tuned)}), a whisker on each bar;
    ``title`` says which questions they are. ``also`` (with ``also_intervals``, same shapes) adds a
    second panel on the right, on the same 0-1 scale, for another kind of question (``also_title``);
    the figure then carries "Before vs after fine-tuning" above both panels. ``n`` and ``also_n``, the
    number of questions of each panel, add the count under each share ("0 of 6")."""
    import matplotlib.pyplot as plt

    panels = [(scores, intervals, title, n)] + ([(also, also_intervals, also_title, also_n)] if also else [])
    ratios = [len(p[0]) + 0.5 for p in panels]  # a bar pair takes the same width in both panels
    fig, axes = plt.subplots(1, len(panels), figsize=(7 if len(panels) == 1 else 9.5, 4), sharey=True,
                             squeeze=False, gridspec_kw={"width_ratios": ratios})
    for ax, (panel_scores, panel_intervals, panel_title, panel_n) in zip(axes[0], panels):
        _before_after_bars(ax, panel_scores, panel_intervals, panel_n)
        ax.set_title(panel_title)
    top = 1.45 if n or also_n else 1.3  # above 1: room for the labels (two lines with the counts) and the legend
    axes[0][0].set(ylim=(0, top), ylabel="share of held-out prompts")
    axes[0][0].set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])  # a share ends at 100 %
    axes[0][0].legend(loc="upper left", ncol=2)  # above the bars, clear of the shares
    if len(panels) > 1:
        fig.suptitle("Before vs after fine-tuning")
    return _finish(fig, path)


def trainable_share(trainable: int, total: int, path: Path | None = None) -> Any:
    """One bar split into trained (LoRA) and frozen parameters (notebook 05)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.2))
    share = trainable / total
    ax.barh([0], [share], color="tab:orange", label=f"trained by LoRA: {trainable:,} ({share:.2%})")
    ax.barh([0], [1 - share], left=[share], color="tab:gray", label=f"frozen: {total - trainable:,}")
    ax.set(xlim=(0, 1), yticks=[], xlabel="share of the model's parameters")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=2, frameon=False)
    return _finish(fig, path)


def lora_diagram(d_in: int, d_out: int, r: int, alpha: float, path: Path | None = None) -> Any:
    """``h = W x + (alpha / r) B A x`` drawn as boxes whose sides follow the matrices' shapes
    (notebook 05): the frozen ``W`` (out x in), then ``A`` (r x in) and ``B`` (out x r).
    ``r`` is drawn at least a few pixels wide so a thin adapter stays visible."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    unit = 3.0 / max(d_in, d_out)  # the longest side is 3 units
    thin = max(r * unit, 0.12)
    w_in, w_out = d_in * unit, d_out * unit
    fig, ax = plt.subplots(figsize=(9, 3.6))

    def box(x: float, y: float, w: float, h: float, color: str, label: str, note: str) -> None:
        ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor="black", alpha=0.8))
        ax.text(x + w / 2, y + h + 0.12, label, ha="center", va="bottom", fontsize=11, weight="bold")
        ax.text(x + w / 2, y - 0.12, note, ha="center", va="top", fontsize=9)

    box(0, 0, w_in, w_out, "tab:gray", "W (frozen)", f"{d_out} x {d_in}")
    ax.text(w_in + 0.35, w_out / 2, "+", fontsize=20, ha="center", va="center")
    ax.text(w_in + 1.05, w_out / 2, f"{alpha:g}/{r}\n= {alpha / r:g}", fontsize=10, ha="center", va="center")
    x = w_in + 1.6
    box(x, 0, thin, w_out, "tab:orange", "B", f"{d_out} x {r}\nstarts at 0")
    ax.text(x + thin + 0.25, w_out / 2, "·", fontsize=22, ha="center", va="center")
    x += thin + 0.5
    box(x, w_out - thin, w_in, thin, "tab:blue", "A", f"{r} x {d_in}\nrandom start")
    ax.text(x + w_in / 2, w_out / 2 - 0.3,
            f"trained: r·(in+out) = {r * (d_in + d_out):,}\nfrozen W: in·out = {d_in * d_out:,}",
            ha="center", va="center", fontsize=9)
    ax.set(xlim=(-0.3, x + w_in + 0.3), ylim=(-0.9, w_out + 0.6), aspect="equal",
           title=f"LoRA on one layer: W + (alpha/r)·B·A, drawn to scale (r={r})")
    ax.axis("off")
    return _finish(fig, path)


def lr_schedule(steps: Sequence[int], rates: Sequence[float], warmup_steps: int,
                logged: Sequence[tuple[int, float]] = (), path: Path | None = None) -> Any:
    """The learning rate at every optimizer step, with the warm-up shaded (notebook 06);
    ``logged`` adds the rates the trainer wrote in its log, as dots."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(steps, rates, "-", color="tab:blue", label="the trainer's scheduler")
    if logged:
        ax.plot(*zip(*logged), "o", color="tab:orange", label="logged by the trainer")
    ax.axvspan(0.5, warmup_steps + 0.5, color="tab:orange", alpha=0.15, label=f"warm-up: steps 1-{warmup_steps}")
    ax.set(title="Learning rate per optimizer step", xlabel="optimizer step", ylabel="learning rate")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def sweep_curves(curves: dict[str, Sequence[tuple[int, float]]], title: str, path: Path | None = None,
                 ylabel: str = "eval loss") -> Any:
    """Eval loss against the step, one line per setting of a small experiment (notebook 06)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, points in curves.items():
        ax.plot(*zip(*points), "-o", label=label)
    ax.set(title=title, xlabel="optimizer step", ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def checkpoint_sweep(steps: Sequence[int], task_loss: Sequence[float], prose_loss: Sequence[float],
                     path: Path | None = None) -> Any:
    """Notebook 09's one setting varied: each saved checkpoint's eval loss on the task (left axis) and its
    loss on plain prose (right axis), against the training step (step 0: the base)."""
    import matplotlib.pyplot as plt

    fig, task_ax = plt.subplots(figsize=(7, 4))
    prose_ax = task_ax.twinx()  # its own scale: the two losses differ in size
    task_ax.plot(list(steps), list(task_loss), "-o", color="tab:blue", label="eval loss: the task (left)")
    prose_ax.plot(list(steps), list(prose_loss), "--s", color="tab:red", label="plain-text loss: prose (right)")
    task_ax.set(title="Each saved checkpoint: the task and plain prose", xlabel="training step")
    task_ax.set_ylabel("eval loss (the task)", color="tab:blue")
    prose_ax.set_ylabel("plain-text loss (prose)", color="tab:red")
    task_ax.grid(alpha=0.3)
    lines = task_ax.get_lines() + prose_ax.get_lines()
    task_ax.legend(lines, [line.get_label() for line in lines], loc="upper right")
    return _finish(fig, path)
