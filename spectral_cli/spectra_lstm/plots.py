"""Figures of the spectra-LSTM: ``weight_hh`` heatmaps, spectrograms, loss curves.

All headless (Agg) through :mod:`spectral_cli.core.plots`; matplotlib is imported lazily.
``weight_hh`` spans many orders of magnitude (switch weights ~1e3, lookup weights ~1, zeros), so
heatmaps use a symmetric-log colour scale; block boundaries (gates i/f/g/o along rows, the
``gen``/``sum``/``prod``/``spec`` unit blocks along rows and columns) are drawn as lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.plots import pyplot, save_figure

GATES = ("i", "f", "g", "o")


def _symlog(plt: Any, lim: float) -> Any:
    from matplotlib.colors import SymLogNorm

    lim = lim or 1.0
    return SymLogNorm(linthresh=max(lim * 1e-6, 1e-300), vmin=-lim, vmax=lim, base=10)


def _draw_blocks(ax: Any, H: int, blocks: Mapping[str, Sequence[int]]) -> None:
    """Gate boundaries (solid) and unit-block boundaries (dotted) on a [4H, H] image."""
    cuts = sorted({int(b) for rng in blocks.values() for b in rng if 0 < int(b) < H})
    for g in range(1, 4):
        ax.axhline(g * H - 0.5, color="black", linewidth=1.0)
    for g in range(4):
        for c in cuts:
            ax.axhline(g * H + c - 0.5, color="black", linewidth=0.5, linestyle=":")
    for c in cuts:
        ax.axvline(c - 0.5, color="black", linewidth=0.5, linestyle=":")
    ax.set_yticks([g * H + H / 2 - 0.5 for g in range(4)], [f"{g} gate" for g in GATES])
    mids = [(int(a) + int(b)) / 2 - 0.5 for a, b in blocks.values() if int(b) > int(a)]
    names = [n for n, (a, b) in blocks.items() if int(b) > int(a)]
    ax.set_xticks(mids, names)


def _heat(
    ax: Any,
    fig: Any,
    w: np.ndarray,
    blocks: Mapping[str, Sequence[int]],
    title: str,
    lim: float | None = None,
) -> None:
    plt = pyplot()
    lim = float(np.abs(w).max()) if lim is None else lim
    im = ax.imshow(w, aspect="auto", cmap="RdBu_r", norm=_symlog(plt, lim), interpolation="nearest")
    _draw_blocks(ax, w.shape[1], blocks)
    ax.set(title=title, xlabel="from hidden unit (block)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)


def weight_hh_heatmap(
    w: np.ndarray, blocks: Mapping[str, Sequence[int]], title: str, path: Path
) -> None:
    """``weight_hh`` [4H, H] with gate and block boundaries (the seed's Figure 1)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 8))
    _heat(ax, fig, w, blocks, title)
    save_figure(fig, path)


def weight_hh_before_after(
    before: np.ndarray,
    after: np.ndarray,
    blocks: Mapping[str, Sequence[int]],
    title: str,
    path: Path,
) -> None:
    """Init, after training (same colour scale) and their difference."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(18, 7.5))
    fig.subplots_adjust(wspace=0.35)
    lim = float(max(np.abs(before).max(), np.abs(after).max()))
    _heat(axes[0], fig, before, blocks, "at init", lim)
    _heat(axes[1], fig, after, blocks, "after training", lim)
    _heat(axes[2], fig, after - before, blocks, "after - init")
    fig.suptitle(title)
    save_figure(fig, path)


def spectrogram_pair(
    est: np.ndarray, ref: np.ndarray, errors: np.ndarray, tol: float, title: str, path: Path
) -> None:
    """LSTM spectrogram beside the FFT one (log10 power; windows x bins) and per-window error."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained")
    floor = max(float(ref.max()) * 1e-16, 1e-300)
    lo, hi = np.log10(floor), np.log10(max(float(ref.max()), floor * 10))
    for ax, data, name in ((axes[0], est, "LSTM"), (axes[1], ref, "torch.fft (float64)")):
        im = ax.imshow(
            np.log10(np.clip(data, floor, None)).T,
            aspect="auto",
            origin="lower",
            cmap="magma",
            vmin=lo,
            vmax=hi,
            interpolation="nearest",
        )
        ax.set(title=name, xlabel="window j", ylabel="bin k")
        fig.colorbar(im, ax=ax, label="log10 P")
    ax = axes[2]
    shown = np.clip(np.nan_to_num(np.asarray(errors, dtype=np.float64), posinf=1e300), 1e-18, 1e300)
    ax.semilogy(np.arange(len(errors)), shown, ".-", label="max_k |P^-P| / max_k P")
    ax.set_ylim(min(float(shown.min()), tol) / 10, max(float(shown.max()), tol) * 10)
    ax.axhline(tol, color="red", linestyle="--", label=f"tol {tol:g}")
    ax.set(title="relative error per window", xlabel="window j")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path)
