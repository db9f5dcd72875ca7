"""The figures of ``spectral ntk`` as matplotlib Figures (drawn from plain data; no torch).

Each ``build_*`` returns the Figure, which :mod:`spectral_cli.ntk.plots` saves (and the tests
read). Rules: log scales where a quantity spans more than three decades, with the floor of a
clipped curve stated; integer ticks for steps and indices; legends outside the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from spectral_cli.core.plots import pyplot

REL_FLOOR = 1e-10  # spectrum: lambda_i / lambda_1 below this is clipped (rounding level)
NETWORK: Final = "-"  # line style of the trained network
NTK: Final = "--"  # line style of the NTK prediction


def value_label(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:g}"


def width_text(kernel: str, width: int) -> str:
    """``width 256``, or ``infinite width (analytic)`` for the analytic kernel."""
    return "infinite width (analytic)" if kernel == "analytic" else f"width {width}"


def _integer_x(*axes: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _outside_legend(ax: Any, **kw: Any) -> Any:
    """A legend to the right of the axes (never over the data)."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kw)


def _style_handles(network: str, ntk: str) -> list[Any]:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color="black", linestyle=NETWORK, label=network),
        Line2D([], [], color="black", linestyle=NTK, label=ntk),
    ]


def spectrum_floor(curves: Mapping[str, Sequence[float]]) -> float:
    """The y floor of the spectrum plot: a decade below the smallest ratio of the informative
    curves (those whose every ratio lambda_i / lambda_1 is at least :data:`REL_FLOOR`; below it
    values are rounding noise, e.g. the ``none`` mapping's), :data:`REL_FLOOR` if none is."""
    lows = []
    for vals in curves.values():
        a = np.asarray(vals, dtype=float)
        if a.size and a[0] > 0 and bool(np.all(a / a[0] >= REL_FLOOR)):
            lows.append(float((a / a[0]).min()))
    if not lows:
        return REL_FLOOR
    return max(REL_FLOOR, 10.0 ** (math.floor(math.log10(min(lows))) - 1))


def build_spectrum(curves: Mapping[str, Sequence[float]], chosen: str, title: str) -> Any:
    """Train-kernel eigenvalues lambda_i / lambda_1 per mapping (log scale, floored at
    :func:`spectrum_floor`); a curve with values below the floor (or <= 0) is drawn at the
    floor with open markers and named clipped in the legend."""
    plt = pyplot()
    floor = spectrum_floor(curves)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    for name, vals in curves.items():
        lam = np.asarray(vals, dtype=float)
        ratio = lam / lam[0] if lam[0] > 0 else np.full_like(lam, np.nan)
        low = ~(ratio >= floor)  # below the floor, zero, negative or nan
        label = name + (" (run)" if name == chosen else "")
        if low.any():
            label += f" ({int(low.sum())} of {lam.size} clipped at {floor:.0e})"
        idx = np.arange(1, lam.size + 1)
        (line,) = ax.semilogy(
            idx,
            np.where(low, floor, ratio),
            marker=".",
            linewidth=2.5 if name == chosen else 1.2,
            label=label,
        )
        if low.any():
            ax.plot(
                idx[low], np.full(int(low.sum()), floor), "v", mfc="none", color=line.get_color()
            )
    ax.set_ylim(bottom=floor / 2, top=2.0)
    ax.set(
        xlabel="eigenvalue index i",
        ylabel=f"λ_i / λ_1 (floor {floor:.0e})",
        title=title,
    )
    _integer_x(ax)
    ax.grid(alpha=0.3, which="both")
    _outside_legend(ax, fontsize=8, title="mapping")
    return fig


def build_profile(rows: Mapping[str, tuple[Any, Any]], title: str) -> Any:
    """K(x_i, x_j) against x_i - x_j, each curve scaled by its value at 0."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (dx, k) in rows.items():
        d, kk = np.asarray(dx), np.asarray(k)
        zero = kk[np.argmin(np.abs(d))]
        ax.plot(d, kk / (zero if zero != 0 else 1.0), label=label)
    ax.set(xlabel="x_i − x_j", ylabel="K(x_i, x_j) / K(x_j, x_j)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def build_dynamics(
    d: Mapping[str, Any], residual_net: np.ndarray, residual_ntk: np.ndarray, title: str
) -> Any:
    """(a) train/test MSE of the network (solid) and the NTK prediction (dashed) over GD steps;
    (b) ``|Q^T(f - y)|_i`` per eigen-direction i, same line styles. Legends right of the axes."""
    plt = pyplot()
    steps = np.asarray(d["record_steps"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.2), layout="constrained")
    handles = []
    for key, col in (("train", "tab:blue"), ("test", "tab:orange")):
        if d.get(f"{key}_mse_curve_network") is None:
            continue
        (h,) = a.semilogy(steps, d[f"{key}_mse_curve_network"], NETWORK, color=col, label=key)
        a.semilogy(steps, d[f"{key}_mse_curve_ntk"], NTK, color=col)
        handles.append(h)
    a.set(xlabel="GD step", ylabel="MSE", title="(a) MSE: network vs NTK prediction")
    a.grid(alpha=0.3, which="both")
    _outside_legend(a, handles=handles + _style_handles("network", "NTK"), fontsize=8)
    n = residual_net.shape[1]
    picks = sorted({0, 1, n // 8, n // 4, n // 2, n - 1} & set(range(n)))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    for i, col in zip(picks, colors, strict=False):
        (h,) = b.semilogy(
            steps, np.abs(residual_net[:, i]), NETWORK, color=col, label=f"i = {i + 1}"
        )
        b.semilogy(steps, np.abs(residual_ntk[:, i]), NTK, color=col)
        handles.append(h)
    b.set(xlabel="GD step", ylabel="|Qᵀ(f − y)|_i", title="(b) residual per eigen-direction i")
    b.grid(alpha=0.3, which="both")
    _outside_legend(b, handles=handles + _style_handles("network", "NTK"), fontsize=8)
    _integer_x(a, b)
    fig.suptitle(title)
    return fig


def build_sweep(points: Sequence[Any], param: str, n_signals: int, title: str) -> Any:
    """The original document's figure: test MSE per value, test-loss curves, spectra and kernel
    profiles. ``points``: objects with the fields of :class:`spectral_cli.ntk.sweep.SweepPoint`
    used here. Error bars (sample sd over the targets) only for more than one target."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.6), layout="constrained")
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(points)))
    labels = [f"{param} = {value_label(p.value)}" for p in points]
    a, b, c, d = axes
    xs = np.arange(len(points))
    many = n_signals > 1
    for key, lab, off in (("ntk", "NTK regression", -0.08), ("network", "trained network", 0.08)):
        mean = [getattr(p, f"test_mse_{key}") for p in points]
        std = [getattr(p, f"test_mse_{key}_std") for p in points] if many else None
        a.errorbar(xs + off, mean, yerr=std, marker="o", capsize=3, label=lab)
    a.set_xticks(xs, [value_label(p.value) for p in points])
    a.set_yscale("log")
    what = f"mean ± sd over {n_signals} signals" if many else "1 signal"
    a.set(xlabel=param, ylabel=f"test MSE ({what})", title="(a) test error")
    a.legend(fontsize=8)
    for p, col, lab in zip(points, colors, labels, strict=True):
        b.semilogy(p.steps, p.test_curve_network, NETWORK, color=col, label=lab)
        b.semilogy(p.steps, p.test_curve_ntk, NTK, color=col)
        lam = np.asarray(p.eigvals, dtype=float)
        lam = np.where(lam > 0, lam, np.nan)
        c.semilogy(np.arange(1, lam.size + 1), lam / lam[0], color=col, label=lab)
        if p.profile is not None:
            dx, k = np.asarray(p.profile[0]), np.asarray(p.profile[1])
            d.plot(dx, k / k[np.argmin(np.abs(dx))], color=col, label=lab)
    curve = "mean over signals" if many else "1 signal"
    b.set(xlabel="GD step", ylabel=f"test MSE ({curve})", title="(b) test loss over GD steps")
    _integer_x(b)
    b.legend(
        handles=_style_handles("trained network", "NTK prediction"), fontsize=7, loc="lower left"
    )
    c.set(xlabel="i", ylabel="λ_i / λ_1", title="(c) NTK eigenvalues")
    d.set(xlabel="x_i − x_j", ylabel="K / K(0)", title="(d) NTK vs x_i − x_j")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    c.legend(fontsize=7)
    fig.suptitle(title)
    return fig


def build_sweep_summary(runs: Sequence[dict[str, Any]]) -> Any:
    """Test MSE (mean ± sd over targets) against the swept value for several sweep reports.

    One panel per target slope (``config.task.slope``); in each, per run, NTK regression (solid)
    and the trained network (dashed), labelled by the number of frequencies ``m`` and the kernel.
    ``runs``: ``report.json`` contents of ``spectral ntk --sweep-*`` runs.
    """
    plt = pyplot()
    slopes = sorted({float(r["config"]["task"]["slope"]) for r in runs}, reverse=True)
    fig, axes = plt.subplots(1, len(slopes), figsize=(6.2 * len(slopes), 4.4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, slope in zip(axes[0], slopes, strict=True):
        group = [r for r in runs if float(r["config"]["task"]["slope"]) == slope]
        group.sort(key=lambda r: -int(r["config"]["m"]))
        for i, (r, col) in enumerate(zip(group, colors, strict=False)):
            rows = r["sweep"]
            xs = np.arange(len(rows)) + (i - (len(group) - 1) / 2) * 0.06
            c = r["config"]
            tag = f"m = {c['m']}" + (" (full basis)" if c.get("m_source") == "default" else "")
            n_sig, steps = r["task"]["n_signals"], rows[0]["steps"]
            for key, style, what in (
                ("ntk", "-", f"NTK regression ({r['kernel']})"),
                ("network", "--", f"network, {steps} GD steps"),
            ):
                mean = [float(row[f"test_mse_{key}"]) for row in rows]
                std = [float(row[f"test_mse_{key}_std"]) for row in rows]
                ax.errorbar(
                    xs + (0.02 if key == "network" else 0.0),
                    mean,
                    yerr=std,
                    color=col,
                    linestyle=style,
                    marker="o" if key == "ntk" else "s",
                    capsize=3,
                    markersize=4,
                    label=f"{tag}: {what}",
                )
        rows0 = group[0]["sweep"]
        param = group[0]["config"]["sweep"]["param"]
        ax.set_xticks(np.arange(len(rows0)), [value_label(float(row["value"])) for row in rows0])
        ax.set_yscale("log")
        ax.set(
            xlabel=param,
            ylabel=f"test MSE (mean ± sd over {n_sig} targets)",
            title=f"target power spectrum ∝ f^-{slope:g} (α = {slope:g})",
        )
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    c0 = runs[0]["config"]
    fig.suptitle(
        f"toy Fourier features a_j = j^-p, b_j = j, j = 1..m; depth {c0['depth']}, "
        f"width {c0['width']}, {runs[0]['task']['n_train']} train / "
        f"{runs[0]['task']['n_test']} test points"
    )
    fig.tight_layout()
    return fig
