"""Structural checks of matplotlib figures, shared by the tests in this folder: what a reader
sees (axes, labels, scales, ticks, legends), read from the Figure object, never from pixels."""

from __future__ import annotations

from typing import Any

import numpy as np


def data_lines(ax: Any) -> list[Any]:
    """The plotted series of ``ax`` (vertical marker lines excluded)."""
    return [line for line in ax.get_lines() if not _vertical(line)]


def verticals(ax: Any) -> list[float]:
    """The x positions of ``ax``'s vertical lines (``axvline``)."""
    return [float(line.get_xdata()[0]) for line in ax.get_lines() if _vertical(line)]


def _vertical(line: Any) -> bool:
    xs = np.asarray(line.get_xdata(), dtype=float)
    return xs.size == 2 and xs[0] == xs[1] and line.get_transform() != line.axes.transData


def visible_ticks(ax: Any, which: str = "x") -> list[float]:
    """Major tick values of ``ax`` inside its view limits."""
    ax.figure.canvas.draw()
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    return [float(t) for t in axis.get_majorticklocs() if lo <= t <= hi]


def labelled_ticks(ax: Any, which: str = "y") -> list[str]:
    """The non-empty major tick labels of ``ax`` inside its view limits."""
    ax.figure.canvas.draw()
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    return [
        t.label1.get_text()
        for t in axis.get_major_ticks()
        if lo <= t.get_loc() <= hi and t.label1.get_visible() and t.label1.get_text()
    ]


def integral(values: list[float]) -> bool:
    return all(float(v).is_integer() for v in values)


def outside_axes(fig: Any, legend: Any) -> bool:
    """Whether ``legend``'s box overlaps no axis that shows data."""
    fig.canvas.draw()
    box = legend.get_window_extent()
    return not any(
        ax.get_visible() and ax.axison and box.overlaps(ax.get_window_extent()) for ax in fig.axes
    )


def shown_axes(fig: Any) -> list[Any]:
    """The axes that draw data (colour bars and switched-off spare panels excluded)."""
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]
