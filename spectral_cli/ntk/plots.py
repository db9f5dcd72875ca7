"""Figures of ``spectral ntk`` (headless matplotlib, via :mod:`spectral_cli.core.plots`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.plots import pyplot, save_figure


def value_label(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:g}"


def _positive(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    return np.where(a > 0, a, np.nan)


def spectra(curves: Mapping[str, Sequence[float]], chosen: str, title: str, path: Path) -> None:
    """Train-kernel eigenvalues lambda_i / lambda_1 per mapping (log scale)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, vals in curves.items():
        lam = _positive(vals)
        ax.semilogy(
            np.arange(1, lam.size + 1),
            lam / lam[0],
            marker=".",
            linewidth=2.5 if name == chosen else 1.2,
            label=name,
        )
    ax.set(xlabel="eigenvalue index i", ylabel="λ_i / λ_1", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def profiles(
    rows: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, path: Path
) -> None:
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
    save_figure(fig, path)


def dynamics(
    d: dict[str, Any], residual_net: np.ndarray, residual_ntk: np.ndarray, title: str, path: Path
) -> None:
    """Train/test MSE of the network vs the NTK prediction, and |Q^T(f - y)|_i over steps."""
    plt = pyplot()
    steps = np.asarray(d["record_steps"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label, col in (("train", "train", "tab:blue"), ("test", "test", "tab:orange")):
        if d.get(f"{key}_mse_curve_network") is None:
            continue
        a.semilogy(steps, d[f"{key}_mse_curve_network"], color=col, label=f"{label}: network")
        a.semilogy(steps, d[f"{key}_mse_curve_ntk"], "--", color=col, label=f"{label}: NTK")
    a.set(xlabel="GD step", ylabel="MSE", title="network (solid) vs NTK prediction (dashed)")
    a.grid(alpha=0.3, which="both")
    a.legend(fontsize=8)
    n = residual_net.shape[1]
    picks = sorted({0, 1, n // 8, n // 4, n // 2, n - 1} & set(range(n)))
    for i, col in zip(picks, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False):
        b.semilogy(steps, np.abs(residual_net[:, i]), color=col, label=f"i = {i + 1}")
        b.semilogy(steps, np.abs(residual_ntk[:, i]), "--", color=col)
    b.set(xlabel="GD step", ylabel="|Qᵀ(f − y)|_i", title="residual per eigen-direction")
    b.grid(alpha=0.3, which="both")
    b.legend(fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def sweep(points: Sequence[Any], param: str, title: str, path: Path) -> None:
    """The original document's figure: test MSE per value, test-loss curves, spectra and kernel
    profiles."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(points)))
    labels = [f"{param} = {value_label(p.value)}" for p in points]
    a, b, c, d = axes
    xs = np.arange(len(points))
    for key, lab, off in (("ntk", "NTK regression", -0.08), ("network", "trained network", 0.08)):
        mean = [getattr(p, f"test_mse_{key}") for p in points]
        std = [getattr(p, f"test_mse_{key}_std") for p in points]
        a.errorbar(xs + off, mean, yerr=std, marker="o", capsize=3, label=lab)
    a.set_xticks(xs, [value_label(p.value) for p in points])
    a.set_yscale("log")
    a.set(xlabel=param, ylabel="test MSE (mean ± sd over signals)", title="(a) test error")
    a.legend(fontsize=8)
    for p, col, lab in zip(points, colors, labels, strict=True):
        b.semilogy(p.steps, p.test_curve_network, color=col, label=lab)
        b.semilogy(p.steps, p.test_curve_ntk, "--", color=col)
        lam = _positive(p.eigvals)
        c.semilogy(np.arange(1, lam.size + 1), lam / lam[0], color=col, label=lab)
        if p.profile is not None:
            dx, k = np.asarray(p.profile[0]), np.asarray(p.profile[1])
            d.plot(dx, k / k[np.argmin(np.abs(dx))], color=col, label=lab)
    b.set(xlabel="GD step", ylabel="test MSE", title="(b) test loss: network (—), NTK (--)")
    c.set(xlabel="i", ylabel="λ_i / λ_1", title="(c) NTK eigenvalues")
    d.set(xlabel="x_i − x_j", ylabel="K / K(0)", title="(d) NTK vs x_i − x_j")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    c.legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, path)


def sweep_summary(runs: Sequence[dict[str, Any]], path: Path) -> None:
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
    save_figure(fig, path)
