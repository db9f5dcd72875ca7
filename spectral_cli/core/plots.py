"""Headless matplotlib figures for run directories (imported lazily; Agg backend).

Every figure of the tool is written by :func:`save_figure`, in the format and resolution of the
current :func:`figure_format` (default PNG at 110 dpi; ``spectral plot --format svg --dpi 200``
sets another for everything drawn inside it, so no plot function takes format arguments). The
helpers below hold the house rules every figure follows: integer ticks for epochs, steps and
trials, log axes for quantities that span decades (with the clipping floor stated), markers on
short series, colour limits from percentiles of the data, legends outside the data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from spectral_cli.core.atomic import write_with

FORMATS = ("png", "svg", "pdf")
Format = Literal["png", "svg", "pdf"]


@dataclass
class FigureFormat:
    """How :func:`save_figure` writes: file ``format`` (the suffix follows it), ``dpi``,
    whether at all (``enabled``; ``--no-plots`` of a command whose figures are drawn deep in its
    core), and the paths it wrote while this format was current (``spectral plot`` lists them)."""

    format: Format = "png"
    dpi: int = 110
    enabled: bool = True
    written: list[Path] = field(default_factory=list)


_CURRENT: ContextVar[FigureFormat | None] = ContextVar("figure_format", default=None)
_DEFAULT = FigureFormat()


def current_format() -> FigureFormat:
    """The format figures are written in now (PNG, 110 dpi outside any block)."""
    return _CURRENT.get() or _DEFAULT


@contextlib.contextmanager
def figure_format(
    fmt: Format | None = None, dpi: int | None = None, enabled: bool = True
) -> Iterator[FigureFormat]:
    """Within the block every figure is written as ``fmt`` at ``dpi`` (``None``: as the
    enclosing block's), or none at all (``enabled=False``); yields the format, whose
    ``written`` lists the files saved in it."""
    outer = current_format()
    current = FigureFormat(fmt or outer.format, dpi or outer.dpi, enabled and outer.enabled)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)
        if outer is not _DEFAULT:  # nothing collects outside a block
            outer.written.extend(current.written)


def figure_path(path: Path) -> Path:
    """``path`` with the current format's suffix (``curves.png`` -> ``curves.svg``)."""
    return path.with_suffix(f".{current_format().format}")


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` atomically in the current format (suffix replaced) and close it; returns
    the path written."""
    current = current_format()
    target = figure_path(path)
    if not current.enabled:
        pyplot().close(fig)
        return target
    write_with(
        target,
        lambda tmp: fig.savefig(tmp, dpi=current.dpi, bbox_inches="tight", format=current.format),
    )
    pyplot().close(fig)
    if current is not _DEFAULT:
        current.written.append(target)
    return target


# ---- house rules ---------------------------------------------------------------------------
def integer_ticks(axis: Any) -> None:
    """Only whole numbers on ``axis`` (epochs, steps, trials): ``ax.xaxis``. A range narrower
    than one (a single epoch) is widened to one unit each side, so a whole number is in it."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))
    lo, hi = axis.get_view_interval()  # hi < lo on an inverted axis (an image's rows)
    if abs(hi - lo) < 1:
        middle = round((lo + hi) / 2)
        setter = axis.axes.set_xlim if axis is axis.axes.xaxis else axis.axes.set_ylim
        setter(*((middle - 1, middle + 1) if hi >= lo else (middle + 1, middle - 1)))


def spans_decades(values: Sequence[float] | np.ndarray, decades: float = 3.0) -> bool:
    """Whether the positive finite ``values`` span more than ``decades`` decades."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return v.size > 1 and float(v.max()) > float(v.min()) * 10**decades


def log_floor(values: Sequence[float] | np.ndarray) -> float:
    """Where values <= 0 are drawn on a log axis: a decade below the smallest positive one."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return float(v.min()) / 10 if v.size else 1e-12


def set_log(
    axis_owner: Any, values: Sequence[float] | np.ndarray, which: Literal["x", "y"] = "y"
) -> None:
    """A log axis for ``values`` (all > 0) with labelled ticks: decades (thinned to about six)
    over a wide range; 1, 2, 5 x 10^k over one under two decades (no minor-tick labels like
    ``2.31x10^0``)."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    (axis_owner.set_yscale if which == "y" else axis_owner.set_xscale)("log")
    axis = axis_owner.yaxis if which == "y" else axis_owner.xaxis
    narrow = not spans_decades(values, 2.0)
    subs = (1.0, 2.0, 5.0) if narrow else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=7))
    axis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    axis.set_minor_locator(LogLocator(base=10, subs="auto", numticks=7 if narrow else 2))
    axis.set_minor_formatter(NullFormatter())


def marker_for(n: int) -> str | None:
    """Markers on short series (a single point is otherwise invisible)."""
    return "o" if n <= 30 else None


def legend_below(fig: Any, handles: Sequence[Any], ncol: int | None = None) -> Any:
    """One legend for the whole figure, centred below every axis (never over the data)."""
    ncol = ncol or min(len(handles), 5)
    return fig.legend(
        handles=list(handles),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=max(ncol, 1),
        fontsize=8,
        frameon=False,
    )


def legend_right(ax: Any, **kwargs: Any) -> Any:
    """The axis' legend outside it, on its right."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, **kwargs)


def color_limits(values: np.ndarray, percentile: float = 99.5) -> tuple[float, bool]:
    """A symmetric colour limit from the data: the ``percentile`` of ``|values|``, and whether
    values beyond it are clipped (say so on the colour bar)."""
    a = np.abs(np.asarray(values, dtype=float))
    a = a[np.isfinite(a)]
    if not a.size:
        return 1.0, False
    lim = float(np.percentile(a, percentile)) or float(a.max()) or 1.0
    return lim, bool(a.max() > lim)


def embedding_heatmap(table: np.ndarray, title: str, path: Path) -> Path:
    """An embedding table (tokens x dimensions) as a heatmap."""
    return save_figure(build_embedding_heatmap(table, title), path)


def build_embedding_heatmap(table: np.ndarray, title: str) -> Any:
    """The heatmap figure: colours symmetric around 0, limits at the 99.5th percentile of
    ``|table|`` (the colour bar says when values beyond it are clipped)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    lim, clipped = color_limits(table)
    im = ax.imshow(
        table, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest"
    )
    ax.set(xlabel="embedding dimension j", ylabel="token i", title=title)
    integer_ticks(ax.xaxis)
    integer_ticks(ax.yaxis)
    bar = fig.colorbar(im, ax=ax, extend="both" if clipped else "neither")
    bar.set_label(f"value (clipped at ±{lim:.3g}, p99.5 of |value|)" if clipped else "value")
    return fig


def histogram(values: np.ndarray, xlabel: str, title: str, path: Path, bins: int = 60) -> Path:
    """A histogram of ``values``."""
    return save_figure(build_histogram(values, xlabel, title, bins), path)


def build_histogram(values: np.ndarray, xlabel: str, title: str, bins: int = 60) -> Any:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.hist(np.ravel(values), bins=bins, color="tab:blue", alpha=0.8)
    ax.set(xlabel=xlabel, ylabel="count", title=title)
    integer_ticks(ax.yaxis)
    ax.grid(alpha=0.3)
    return fig
