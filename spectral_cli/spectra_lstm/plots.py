"""Figures of the spectra-LSTM: ``weight_hh`` heatmaps and the verification spectrogram.

All headless (Agg) through :mod:`spectral_cli.core.plots`; matplotlib is imported lazily. Each
figure has a ``build_*`` function that returns the matplotlib Figure (the tests read its axes)
and a thin wrapper that saves it with :func:`~spectral_cli.core.plots.save_figure`.

``weight_hh`` of the constructed cell spans many orders of magnitude (switch weights ~1e3,
lookup weights ~1, zeros), so its maps use a symmetric-log colour scale and mark its unit blocks
(``gen``/``sum``/``prod``); a random or trained standard LSTM has no such blocks and no such
range, so its maps use a linear scale clipped at the 99th percentile of ``|w|`` (stated in the
colour bar's label). Gate boundaries (i/f/g/o) are drawn for every LSTM. Matrices taller than
:data:`MAX_CELLS` rows are shown aggregated (each pixel the entry of largest ``|w|`` in its
block), which keeps every cell visible and avoids moire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.plots import pyplot, save_figure

GATES = ("i", "f", "g", "o")
MAX_CELLS = 400  # rows (and columns) drawn at most; larger maps are aggregated
LINEAR_PERCENTILE = 99.0  # linear maps: colour range +-(this percentile of |w|)
LOG_PERCENTILE = 1.0  # spectrogram: colour floor at this percentile of log10 P (FFT)

Blocks = Mapping[str, Sequence[int]] | None


def aggregate(w: np.ndarray, max_cells: int = MAX_CELLS) -> tuple[np.ndarray, int]:
    """``w`` reduced by an integer factor ``f`` so that no side exceeds ``max_cells``; each new
    cell holds the entry of largest magnitude of its ``f x f`` block (sign kept)."""
    f = max(1, math.ceil(max(w.shape) / max_cells))
    if f == 1:
        return w, 1
    rows, cols = math.ceil(w.shape[0] / f), math.ceil(w.shape[1] / f)
    padded = np.zeros((rows * f, cols * f), dtype=np.float64)
    padded[: w.shape[0], : w.shape[1]] = w
    tiles = padded.reshape(rows, f, cols, f).transpose(0, 2, 1, 3).reshape(rows, cols, f * f)
    pick = np.abs(tiles).argmax(axis=-1)
    return np.take_along_axis(tiles, pick[..., None], axis=-1)[..., 0], f


def symlog_ticks(lim: float, linthresh: float) -> list[float]:
    """0 and +-powers of ten between ``10 linthresh`` and ``lim``, at most four per side (no
    tick crowds 0)."""
    if lim <= 0:
        return [0.0]
    top, bottom = math.floor(math.log10(lim)), math.ceil(math.log10(linthresh)) + 1
    step = max(1, math.ceil((top - bottom + 1) / 4))
    exps = list(range(top, bottom - 1, -step))
    pos = [10.0**e for e in exps]
    return sorted([-v for v in pos] + [0.0] + pos)


def _norm_and_label(values: np.ndarray, constructed: bool) -> tuple[Any, str, Any]:
    """The colour normalization from ``values`` (a map, or several sharing one scale), the
    colour-bar label and its ticks (None: matplotlib's)."""
    from matplotlib.colors import Normalize, SymLogNorm

    mag = np.abs(values[np.isfinite(values)])
    if constructed:
        top = float(mag.max(initial=0.0)) or 1.0
        nonzero = mag[mag > 0]
        # the linear part: the smallest entries that matter (1st percentile of the non-zeros)
        small = float(np.percentile(nonzero, 1)) if nonzero.size else top * 1e-6
        linthresh = max(min(small, top * 1e-3), top * 1e-12)
        norm = SymLogNorm(linthresh=linthresh, vmin=-top, vmax=top, base=10)
        label = f"w (symmetric log; linear within ±{linthresh:.1g})"
        return norm, label, symlog_ticks(top, linthresh)
    top = (float(np.percentile(mag, LINEAR_PERCENTILE)) if mag.size else 1.0) or 1.0
    clipped = float((mag > top).mean() * 100) if mag.size else 0.0
    label = f"w (clipped at ±{top:.3g} = p{LINEAR_PERCENTILE:g} of |w|: {clipped:.1f}% of cells)"
    return Normalize(vmin=-top, vmax=top), label, None


def _draw_blocks(ax: Any, H: int, blocks: Blocks) -> None:
    """Gate boundaries (solid, every LSTM) and, for the construction, unit-block boundaries
    (dotted) with their names on a [4H, H] image in index coordinates."""
    for g in range(1, 4):
        ax.axhline(g * H - 0.5, color="black", linewidth=1.0)
    ax.set_yticks([g * H + H / 2 - 0.5 for g in range(4)], [f"{g} gate" for g in GATES])
    if not blocks:
        ax.set_xlabel("from hidden unit")
        return
    cuts = sorted({int(b) for rng in blocks.values() for b in rng if 0 < int(b) < H})
    for g in range(4):
        for c in cuts:
            ax.axhline(g * H + c - 0.5, color="black", linewidth=0.5, linestyle=":")
    for c in cuts:
        ax.axvline(c - 0.5, color="black", linewidth=0.5, linestyle=":")
    mids = [(int(a) + int(b)) / 2 - 0.5 for a, b in blocks.values() if int(b) > int(a)]
    names = [n for n, (a, b) in blocks.items() if int(b) > int(a)]
    ax.set_xticks(mids, names)
    ax.set_xlabel("from hidden unit (block)")


def _heat(
    ax: Any, fig: Any, w: np.ndarray, blocks: Blocks, title: str, scale: np.ndarray | None = None
) -> Any:
    """One map; its colour scale from ``scale`` (default ``w`` itself)."""
    shown, f = aggregate(np.asarray(w, dtype=np.float64))
    rows, cols = w.shape
    values = np.asarray(w if scale is None else scale, dtype=np.float64)
    norm, label, ticks = _norm_and_label(values, bool(blocks))
    im = ax.imshow(
        shown,
        aspect="auto",
        cmap="RdBu_r",
        norm=norm,
        interpolation="nearest",
        extent=(-0.5, shown.shape[1] * f - 0.5, shown.shape[0] * f - 0.5, -0.5),
    )
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    _draw_blocks(ax, cols, blocks)
    ax.set_title(title + (f"\n(each pixel: largest |w| of {f}×{f})" if f > 1 else ""))
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, extend="neither" if blocks else "both")
    if ticks is not None:
        bar.set_ticks(ticks)
        bar.set_ticklabels([_tick_label(t) for t in ticks])
    bar.set_label(label, fontsize=8)
    return im


def _tick_label(v: float) -> str:
    if v == 0:
        return "0"
    return f"{'−' if v < 0 else ''}1e{round(math.log10(abs(v)))}"


def build_weight_hh(w: np.ndarray, blocks: Blocks, title: str) -> Any:
    """``weight_hh`` [4H, H]: gates for every LSTM, unit blocks (``blocks``) for the
    construction only (``None`` for a random or standard LSTM: linear scale, no blocks)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 8.5), layout="constrained")
    _heat(ax, fig, w, blocks, title)
    return fig


def weight_hh_heatmap(w: np.ndarray, blocks: Blocks, title: str, path: Path) -> None:
    """Save :func:`build_weight_hh` to ``path``."""
    save_figure(build_weight_hh(w, blocks, title), path)


def build_weight_hh_before_after(
    before: np.ndarray, after: np.ndarray, blocks: Blocks, title: str
) -> Any:
    """Init, after training (same colour scale) and their difference (its own scale)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(19, 8), layout="constrained")
    both = np.concatenate([np.ravel(before), np.ravel(after)])
    _heat(axes[0], fig, before, blocks, "at init", both)
    _heat(axes[1], fig, after, blocks, "after training", both)
    _heat(axes[2], fig, after - before, blocks, "after − init")
    fig.suptitle(title)
    return fig


def weight_hh_before_after(
    before: np.ndarray, after: np.ndarray, blocks: Blocks, title: str, path: Path
) -> None:
    """Save :func:`build_weight_hh_before_after` to ``path``."""
    save_figure(build_weight_hh_before_after(before, after, blocks, title), path)


def half_bins(window: int) -> int:
    """Non-redundant bins of a real signal's spectrum: ``k = 0..T/2`` (``T//2 + 1`` of them)."""
    return window // 2 + 1


def build_spectrogram(
    est: np.ndarray, ref: np.ndarray, errors: np.ndarray, tol: float, title: str
) -> Any:
    """LSTM and FFT spectrograms (log10 power, windows x bins k = 0..T/2, one colour range from
    the FFT's percentiles), the relative error per bin ``|P^ - P| / max_k P`` and the worst
    relative error per window against the tolerance."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    T = ref.shape[1]
    k = half_bins(T)
    est_h, ref_h = (
        np.asarray(est, dtype=np.float64)[:, :k],
        np.asarray(ref, dtype=np.float64)[:, :k],
    )
    tiny = np.finfo(np.float64).tiny
    log_ref = np.log10(np.maximum(ref_h, tiny))
    lo = float(np.percentile(log_ref, LOG_PERCENTILE))
    hi = float(log_ref.max())
    hi = hi if hi > lo else lo + 1.0
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), layout="constrained")
    extent = (-0.5, ref_h.shape[0] - 0.5, -0.5, k - 0.5)
    for ax, data, name in ((axes[0, 0], est_h, "LSTM"), (axes[0, 1], ref_h, "torch.fft (float64)")):
        im = ax.imshow(
            np.log10(np.maximum(data, tiny)).T,
            aspect="auto",
            origin="lower",
            cmap="magma",
            vmin=lo,
            vmax=hi,
            interpolation="nearest",
            extent=extent,
        )
        ax.set(title=f"{name}: power P (bins 0..T/2 of T = {T})", xlabel="window j", ylabel="bin k")
        fig.colorbar(
            im, ax=ax, extend="min", label=f"log10 P (clipped below p{LOG_PERCENTILE:g} = {lo:.2f})"
        )
    scale = ref_h.max(axis=1, keepdims=True)
    rel = np.abs(est_h - ref_h) / np.where(scale > 0, scale, 1.0)
    floor = 1e-18
    log_rel = np.log10(np.maximum(rel, floor))  # exact zeros drawn at the floor
    e_lo = float(np.percentile(log_rel, LOG_PERCENTILE))
    ax = axes[1, 0]
    im = ax.imshow(
        log_rel.T,
        aspect="auto",
        origin="lower",
        cmap="viridis",
        vmin=e_lo,
        vmax=max(float(log_rel.max()), e_lo + 1e-9),
        interpolation="nearest",
        extent=extent,
    )
    ax.set(title="relative error |P^ − P| / max_k P", xlabel="window j", ylabel="bin k")
    fig.colorbar(
        im,
        ax=ax,
        extend="min",
        label=f"log10 rel. error (clipped below p{LOG_PERCENTILE:g} = {e_lo:.2f}; 0 at {floor:g})",
    )
    ax = axes[1, 1]
    errs = np.nan_to_num(np.asarray(errors, dtype=np.float64), posinf=1e300)
    shown = np.clip(errs, floor, 1e300)
    ax.semilogy(np.arange(len(errs)), shown, ".-", label="max_k |P^ − P| / max_k P")
    bounds = [float(shown.min()), float(shown.max())] + ([tol] if tol > 0 else [])
    ax.set_ylim(min(bounds) / 10, max(bounds) * 10)
    if tol > 0:
        ax.axhline(tol, color="red", linestyle="--", label=f"tol {tol:g}")
    tol_text = "" if tol > 0 else f" (tol {tol:g}: any error fails)"
    ax.set(
        title=f"worst relative error per window{tol_text}",
        xlabel="window j",
        ylabel=f"relative error (floor {floor:g})",
    )
    for a in axes.flat:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    for a in axes.flat[:3]:
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def spectrogram_pair(
    est: np.ndarray, ref: np.ndarray, errors: np.ndarray, tol: float, title: str, path: Path
) -> None:
    """Save :func:`build_spectrogram` to ``path``."""
    save_figure(build_spectrogram(est, ref, errors, tol, title), path)
