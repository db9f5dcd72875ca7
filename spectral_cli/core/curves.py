"""``curves.png``: the per-epoch (or per-step) history of every model of a training run.

A family declares its panels once (:class:`Curves`, the family's ``curves`` field; ``None``:
:data:`CLASSIFIER`): each :class:`Panel` is one axis and one unit (a loss, an accuracy, an
nMSE), never two metrics of different scale on one axis; a panel whose quantity differs per
model (the HAE and SAE objectives) is drawn once per model. Everything is drawn from what the
report saves (``models.<name>.history``, ``selection``, ``extras``), so ``spectral plot`` redraws
it without training. Colours are the models, line styles the split (train solid, validation
dashed); dotted verticals mark the epoch whose weights each model kept (the best one or, for
families that keep the last, the last), grey dash-dotted ones the family's marks (curriculum
phases); one legend below the panels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spectral_cli.core import plots

STYLES: tuple[Literal["-", "--", ":"], ...] = ("-", "--", ":")


@dataclass(frozen=True)
class Panel:
    """One axis: the history ``keys`` (key, legend word) of every model, ``ylabel`` its unit.

    ``scale``: ``log``, ``linear`` or ``auto`` (log when positive and spanning more than three
    decades). ``percent``: fractions drawn in % on 0..100. ``per_model``: one axis per model
    (each model's own objective). Keys a model's history lacks are skipped for it.
    """

    title: str
    keys: tuple[tuple[str, str], ...]
    ylabel: str
    scale: Literal["auto", "log", "linear"] = "auto"
    percent: bool = False
    per_model: bool = False


@dataclass(frozen=True)
class Curves:
    """A family's ``curves.png``: its ``panels``; ``start``: history key -> the model extras'
    key holding its value before training (drawn at step/epoch 0); ``marks(cfg)``: vertical
    marks (x, label) of the run, e.g. where a curriculum phase starts."""

    panels: tuple[Panel, ...]
    start: Mapping[str, str] = field(default_factory=dict)
    marks: Callable[[Any], list[tuple[float, str]]] | None = None


CLASSIFIER = Curves(
    (
        Panel("loss", (("loss", "train"), ("val_loss", "validation")), "cross-entropy loss"),
        Panel(
            "accuracy",
            (("train_acc", "train"), ("val_acc", "validation")),
            "accuracy (%)",
            scale="linear",
            percent=True,
        ),
    )
)


@dataclass(frozen=True)
class ModelCurve:
    """One model's history with the epoch whose weights it kept (0: none) and how it chose."""

    name: str
    history: Sequence[Mapping[str, float]]
    kept_epoch: int
    kept: str = "best"
    start: Mapping[str, float] = field(default_factory=dict)


def model_curves(summaries: Mapping[str, Any], spec: Curves) -> list[ModelCurve]:
    """Curves of a report's ``models`` (:class:`~spectral_cli.core.report.ModelSummary` each)."""
    out = []
    for name, s in summaries.items():
        history, sel = s.history, s.selection
        last = int(history[-1]["epoch"]) if history else 0
        kept = last if sel.kept == "last" else sel.best_epoch
        start = {
            key: float(s.extras[extra])
            for key, extra in spec.start.items()
            if isinstance(s.extras.get(extra), (int, float))
        }
        out.append(ModelCurve(name, history, kept, sel.kept, start))
    return out


def _axes_plan(spec: Curves, models: Sequence[ModelCurve]) -> list[tuple[Panel, list[ModelCurve]]]:
    """(panel, its models) per axis; panels no model has data for are left out."""
    plan = []
    for panel in spec.panels:
        groups = [[m] for m in models] if panel.per_model else [list(models)]
        for group in groups:
            have = [m for m in group if any(k in r for r in m.history for k, _ in panel.keys)]
            if have:
                plan.append((panel, have))
    return plan


def build_training_curves(
    models: Sequence[ModelCurve],
    spec: Curves,
    title: str,
    unit: str = "epoch",
    select: str = "",
    marks: Sequence[tuple[float, str]] = (),
) -> Any:
    """The figure (see the module docstring); ``unit`` ``step`` draws against ``step``."""
    plt = plots.pyplot()
    from matplotlib.lines import Line2D

    plan = _axes_plan(spec, models)
    n = max(len(plan), 1)
    cols = n if n <= 4 else 3
    rows = -(-n // cols)
    width = 5.0 if cols <= 3 else 4.3
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, 3.6 * rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {m.name: colors[i % len(colors)] for i, m in enumerate(models)}
    flat = list(axes.ravel())
    styles_used: dict[
        str, Literal["-", "--", ":"]
    ] = {}  # line style -> split, where a panel draws several
    for ax, (panel, group) in zip(flat, plan, strict=False):
        drawn: list[float] = []
        lines: list[Any] = []
        for m in group:
            key = "step" if unit == "step" and m.history and "step" in m.history[0] else "epoch"
            k = 100.0 if panel.percent else 1.0
            for index, (metric, word) in enumerate(panel.keys):
                points = [(float(r[key]), float(r[metric]) * k) for r in m.history if metric in r]
                if metric in m.start:
                    points.insert(0, (0.0, m.start[metric] * k))
                if not points:
                    continue
                style = STYLES[index % len(STYLES)]
                if len(panel.keys) > 1:
                    styles_used.setdefault(word, style)
                xs, ys = zip(*points, strict=True)
                drawn += ys
                (line,) = ax.plot(
                    xs,
                    ys,
                    linestyle=style,
                    color=color[m.name],
                    marker=plots.marker_for(len(xs)),
                    markersize=3,
                    label=f"{m.name} {word}",
                )
                lines.append(line)
            x_kept = next((r[key] for r in m.history if int(r["epoch"]) == m.kept_epoch), None)
            if x_kept is not None:
                ax.axvline(float(x_kept), color=color[m.name], linestyle=":", alpha=0.8)
        for x, _ in marks:
            ax.axvline(x, color="grey", linestyle="-.", alpha=0.6)
        name = f"{group[0].name}: " if panel.per_model and len(models) > 1 else ""
        ax.set(xlabel=unit, ylabel=panel.ylabel, title=f"{name}{panel.title}")
        _scale(ax, panel, drawn, lines)
        plots.integer_ticks(ax.xaxis)
        ax.grid(alpha=0.3)
    for ax in flat[len(plan) :]:
        ax.set_axis_off()
    handles = [Line2D([], [], color=color[m.name], label=m.name) for m in models]
    handles += [Line2D([], [], color="grey", linestyle=s, label=w) for w, s in styles_used.items()]
    kept = {m.kept for m in models}
    how = f"last {unit}" if kept == {"last"} else f"best {select}" if kept == {"best"} else "kept"
    handles.append(Line2D([], [], color="grey", linestyle=":", label=f"kept weights ({how})"))
    handles += [
        Line2D([], [], color="grey", linestyle="-.", label=label) for label in _mark_labels(marks)
    ]
    fig.suptitle(title)
    fig.tight_layout()
    plots.legend_below(fig, handles, ncol=min(len(handles), 6))
    return fig


def _mark_labels(marks: Sequence[tuple[float, str]]) -> list[str]:
    """One legend word for the marks: ``phase 1 at 4.5, phase 2 at 9.5``."""
    if not marks:
        return []
    return [", ".join(f"{label} from {x + 0.5:g}" for x, label in marks)]


def _scale(ax: Any, panel: Panel, values: Sequence[float], lines: Sequence[Any]) -> None:
    """The panel's y scale; on a log axis values <= 0 are drawn at a floor the title states."""
    positive = all(v > 0 for v in values)
    log = panel.scale == "log" or (panel.scale == "auto" and plots.spans_decades(values))
    if not log:
        return
    if panel.scale == "auto" and not positive:
        return  # a loss that crosses 0 stays linear
    if not positive:
        floor = plots.log_floor(values)
        for line in lines:
            line.set_ydata([max(float(y), floor) for y in line.get_ydata()])
        ax.set_title(f"{ax.get_title()}\n(values <= 0 drawn at {floor:.1e})", fontsize=9)
        values = [max(v, floor) for v in values]
    plots.set_log(ax, values)


def training_curves(
    models: Sequence[ModelCurve],
    spec: Curves,
    title: str,
    path: Path,
    unit: str = "epoch",
    select: str = "",
    marks: Sequence[tuple[float, str]] = (),
) -> Path:
    """Draw and save ``curves.png`` (:func:`build_training_curves`)."""
    return plots.save_figure(build_training_curves(models, spec, title, unit, select, marks), path)
