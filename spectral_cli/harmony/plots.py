"""``harmony_hist.png``: harmony H of valid inputs and of each invalid kind (headless; drawn by
``train hae``, ``harmony-score --checkpoint`` and ``spectral plot``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.plots import legend_right, pyplot, save_figure

VALID = "valid"
KIND_COLORS = ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:olive", "tab:cyan")


def build_harmony_histograms(values: Mapping[str, Mapping[str, Any]], title: str) -> Any:
    """One panel per model: H of the ``valid`` inputs (filled, drawn on top) and of each
    invalid kind (outlines, one colour each), as densities over shared bins that cover the
    0.5-99.5 % percentiles of all values (values beyond them are counted in the end bins, as
    the x label says). The panel title gives the AUROC of H as a valid-vs-invalid detector."""
    from spectral_cli.harmony.detection import auroc

    plt = pyplot()
    n = len(values)
    fig, axes = plt.subplots(1, n, figsize=(6.2 * n, 3.9), squeeze=False, layout="constrained")
    for ax, (name, v) in zip(axes[0], values.items(), strict=True):
        valid = np.ravel(np.asarray(v[VALID], dtype=float))
        kinds = {k: np.ravel(np.asarray(a, dtype=float)) for k, a in v.items() if k != VALID}
        every = np.concatenate([valid, *kinds.values()])
        lo, hi = (float(q) for q in np.percentile(every, [0.5, 99.5]))
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 51)
        for (kind, h), color in zip(kinds.items(), KIND_COLORS * 4, strict=False):
            ax.hist(
                np.clip(h, lo, hi),
                bins=bins,
                density=True,
                histtype="step",
                linewidth=1.6,
                color=color,
                label=f"invalid: {kind} (n={h.size}, AUROC {auroc(valid, h):.3f})",
            )
        ax.hist(
            np.clip(valid, lo, hi),
            bins=bins,
            density=True,
            alpha=0.55,
            color="tab:blue",
            edgecolor="tab:blue",
            zorder=3,
            label=f"valid (n={valid.size})",
        )
        clipped = int(((every < lo) | (every > hi)).sum())
        shown = "" if not clipped else f"; {clipped} outside p0.5-p99.5 counted in the end bins"
        ax.set(xlabel=f"harmony H{shown}", ylabel="density")
        every_invalid = np.concatenate(list(kinds.values())) if kinds else valid
        ax.set_title(f"{name}: AUROC of H {auroc(valid, every_invalid):.3f} (valid vs invalid)")
        ax.grid(alpha=0.3)
        legend_right(ax)
    fig.suptitle(title)
    return fig


def harmony_histograms(values: Mapping[str, Mapping[str, Any]], title: str, path: Path) -> Path:
    """Draw and save the histogram (:func:`build_harmony_histograms`)."""
    return save_figure(build_harmony_histograms(values, title), path)


def checkpoint_name(path: Path) -> str:
    """A checkpoint as the run it belongs to: ``<run>/model.safetensors``."""
    resolved = path.resolve()
    return f"{resolved.parent.name}/{resolved.name}"


def draw_histogram(
    values: dict[str, Any], checkpoint: Path, variant: str, band: str, out_dir: Path
) -> str:
    """``harmony_hist.png`` of the scored checkpoint in ``out_dir``; returns its file name."""
    title = (
        f"{out_dir.resolve().name}: harmony H of {checkpoint_name(checkpoint)} ({variant}, {band})"
    )
    return harmony_histograms({"hae": values}, title, out_dir / "harmony_hist.png").name
