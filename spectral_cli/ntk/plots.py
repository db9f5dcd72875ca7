"""Figures of ``spectral ntk``, drawn from what the run saved (also by ``spectral plot RUN``).

A run writes ``figures.npz`` (always, also with ``--no-plots``) with the arrays its figures need
beyond ``report.json``: ``profile_dx``/``profile_k`` (1-D tasks: K(x, x_c) against x - x_c),
``residual_net``/``residual_ntk`` [records, n] (``--train-steps``: ``Q^T(f - y)`` per
eigen-direction) and per sweep value i ``sweep.i.steps``, ``sweep.i.test_curve_network``,
``sweep.i.test_curve_ntk``, ``sweep.i.eigvals`` and ``sweep.i.profile_dx``/``profile_k``.
:func:`draw` turns the report and those arrays into ``spectrum.png``, ``kernel_profile.png``,
``dynamics.png`` and ``sweep.png`` (the figures themselves: :mod:`spectral_cli.ntk.charts`);
:func:`replot` does the same for a finished run directory without recomputing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from spectral_cli.core.atomic import write_with
from spectral_cli.core.errors import BadInput
from spectral_cli.core.plots import save_figure
from spectral_cli.core.replot import FIGURE_DATA, saved_figure_data
from spectral_cli.ntk import charts
from spectral_cli.ntk.charts import value_label, width_text

SPECTRUM, PROFILE, DYNAMICS, SWEEP = (
    "spectrum.png",
    "kernel_profile.png",
    "dynamics.png",
    "sweep.png",
)
SWEEP_CURVES = ("steps", "test_curve_network", "test_curve_ntk", "eigvals")

__all__ = ["FIGURE_DATA", "draw", "figure_files", "replot", "sweep_arrays", "value_label"]


def sweep_arrays(points: Sequence[Any]) -> dict[str, np.ndarray]:
    """The arrays of the sweep figure per point (``sweep.i.*``) for ``figures.npz``."""
    out: dict[str, np.ndarray] = {}
    for i, p in enumerate(points):
        for key in SWEEP_CURVES:
            out[f"sweep.{i}.{key}"] = np.asarray(getattr(p, key), dtype=np.float64)
        if p.profile is not None:
            out[f"sweep.{i}.profile_dx"] = np.asarray(p.profile[0], dtype=np.float64)
            out[f"sweep.{i}.profile_k"] = np.asarray(p.profile[1], dtype=np.float64)
    return out


def save_figure_data(path: Path, data: dict[str, np.ndarray]) -> None:
    """Write ``figures.npz`` atomically."""

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **data)  # type: ignore[arg-type]  # numpy stub: allow_pickle

    write_with(path, writer)


def figure_files(report: dict[str, Any], data: dict[str, np.ndarray]) -> dict[str, str]:
    """The report's ``files`` entries of the figures :func:`draw` writes."""
    files = {"spectrum_plot": SPECTRUM}
    if "profile_dx" in data:
        files["kernel_profile_plot"] = PROFILE
    if report.get("dynamics"):
        files["dynamics_plot"] = DYNAMICS
    if report.get("sweep"):
        files["sweep_plot"] = SWEEP
    return files


def _points(report: dict[str, Any], data: dict[str, np.ndarray]) -> list[Any]:
    points = []
    for i, row in enumerate(report["sweep"]):
        p = SimpleNamespace(**{k: float(row[k]) for k in _SWEEP_NUMBERS})
        for key in SWEEP_CURVES:
            setattr(p, key, data[f"sweep.{i}.{key}"])
        dx, k = data.get(f"sweep.{i}.profile_dx"), data.get(f"sweep.{i}.profile_k")
        p.profile = None if dx is None or k is None else (dx, k)
        points.append(p)
    return points


_SWEEP_NUMBERS = (
    "value",
    "test_mse_ntk",
    "test_mse_ntk_std",
    "test_mse_network",
    "test_mse_network_std",
)


def draw(run_dir: Path, report: dict[str, Any], data: dict[str, np.ndarray]) -> list[Path]:
    """Every figure of the run from its report (as JSON) and figure data; returns the files.
    Titles name the run directory and what was run."""
    c, t, kernel, name = report["config"], report["task"], report["kernel"], run_dir.name
    net = f"depth {c['depth']}, {width_text(kernel, int(c['width']))}"
    written = []
    fig = charts.build_spectrum(
        report["spectrum"]["per_encoding"],
        c["encoding"],
        f"{name}: NTK eigenvalues ({kernel}, {net}, n = {t['n_train']})",
    )
    save_figure(fig, run_dir / SPECTRUM)
    written.append(run_dir / SPECTRUM)
    if "profile_dx" in data:
        fig = charts.build_profile(
            {c["encoding"]: (data["profile_dx"], data["profile_k"])},
            f"{name}: NTK against x_i − x_j ({kernel})",
        )
        save_figure(fig, run_dir / PROFILE)
        written.append(run_dir / PROFILE)
    if report.get("dynamics"):
        d = report["dynamics"]
        fig = charts.build_dynamics(
            d,
            data["residual_net"],
            data["residual_ntk"],
            f"{name}: full-batch GD of the network vs its NTK, {d['steps']} steps, "
            f"lr = {float(d['lr']):.3g} (sum loss), {kernel} kernel, target signal "
            f"{d.get('target_signal', 0)}",
        )
        save_figure(fig, run_dir / DYNAMICS)
        written.append(run_dir / DYNAMICS)
    if report.get("sweep"):
        fig = charts.build_sweep(
            _points(report, data),
            c["sweep"]["param"],
            int(t["n_signals"]),
            f"{name}: sweep of {c['sweep']['param']} on {t['source']}, {t['n_signals']} "
            f"signal(s), {kernel} NTK, {net}",
        )
        save_figure(fig, run_dir / SWEEP)
        written.append(run_dir / SWEEP)
    return written


def replot(run: Path) -> list[Path]:
    """Redraw the figures of a ``spectral ntk`` run from ``report.json`` and ``figures.npz``
    (nothing is recomputed); returns the files written. A run without ``figures.npz`` (runs
    before this version) or of another command is bad input; nothing is written then."""
    report, data = saved_figure_data(
        run, "ntk", "run 'spectral ntk --config config.yaml' of that run again"
    )
    try:
        return draw(run, report, data)
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise BadInput(f"{run} lacks what its figures need ({exc!r} missing or invalid)") from None
