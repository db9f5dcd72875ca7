"""What ``spectral verify-lstm`` writes besides the checkpoint: the report model and the figures.

:class:`VerifyReport` is ``report.json`` (``per_window`` is ``max_k |P^-P| / max_k P``, the
reference's error measure). :func:`figure_data` computes what the figures show and
:func:`save_figure_data` writes it to ``figures.npz`` (always, also with ``--no-plots``):
``weight_hh`` [4H, H] (float64), ``est`` and ``ref`` [W, T] (the LSTM's and ``torch.fft``'s
spectra of the first :data:`PLOT_WINDOWS` windows). :func:`draw` draws ``weight_hh.png`` (the
recurrent matrix; the construction's unit blocks marked) and ``spectrogram.png`` (estimate,
reference, relative error per bin and per window) from the report and that file, in the run and
again in :func:`replot` (``spectral plot RUN``). The verification itself is
:mod:`spectral_cli.spectra_lstm.verify`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field

from spectral_cli.core.atomic import write_with
from spectral_cli.core.errors import BadInput
from spectral_cli.core.replot import saved_figure_data
from spectral_cli.core.report import Report
from spectral_cli.spectra_lstm import reference

PLOT_WINDOWS = 256  # windows shown in spectrogram.png (windows are independent: exact resets)
FIGURES = {"weight_hh": "weight_hh.png", "spectrogram": "spectrogram.png"}
ARRAYS = ("weight_hh", "est", "ref")


class SignalSummary(BaseModel):
    kind: str
    samples: int
    max_abs: float
    rms: float


class VerifyReport(Report):
    """``spectral verify-lstm`` report; ``per_window`` is ``max_k |P^-P| / max_k P``."""

    command: str = "verify-lstm"
    passed: bool
    max_error: float
    tol: float
    worst_window: int
    worst_bin: int
    windows: int
    window: int
    hidden_size: int
    readout_delay: int
    cell: str  # "contract (tanh input gate)" or "nn.LSTM (sigmoid input gate)"
    source: str  # "construction" or the checkpoint path
    run_dtype: str
    built_dtype: str
    note: str | None = None
    blocks: dict[str, list[int]] | None = None
    valid_amplitude: dict[str, float] | None = None
    signal: SignalSummary
    per_window: list[float]
    wall_seconds: float
    files: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"verify-lstm T={self.window} ({self.run_dtype}, {self.windows} windows): "
            f"{verdict}, worst relative error {self.max_error:.3g} (tol {self.tol:g}) at "
            f"window {self.worst_window}, bin {self.worst_bin}"
        )


def amplitude_range(sc: dict[str, float] | None) -> dict[str, float] | None:
    """Sample-amplitude range of full accuracy of a construction (None if unknown)."""
    if not sc:
        return None
    return {"input_bound": sc["input_bound"], "min_peak_magnitude": sc["min_peak_magnitude"]}


def figure_data(model: Any, signal: torch.Tensor, device: torch.device) -> dict[str, np.ndarray]:
    """``weight_hh`` and the spectra of the first ``PLOT_WINDOWS`` windows (float64 arrays)."""
    T = model.window
    shown = signal[: PLOT_WINDOWS * T]
    if isinstance(model, reference.SpectraLSTMWeights):
        est = reference.spectrogram(model, shown, device).cpu().double()
        whh = model.weight_hh.double().cpu()
    else:
        est = model.spectrogram(shown.to(device)).cpu().double()
        whh = model.weight_hh().double().cpu()
    ref = reference.reference_spectra(shown, T)
    return {"weight_hh": whh.numpy(), "est": est.numpy(), "ref": ref.numpy()}


def save_figure_data(path: Path, data: dict[str, np.ndarray]) -> None:
    """Write ``figures.npz`` atomically."""

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **data)  # type: ignore[arg-type]  # numpy stub: allow_pickle

    write_with(path, writer)


def draw(run_dir: Path, report: dict[str, Any], data: dict[str, np.ndarray]) -> list[Path]:
    """``weight_hh.png`` and ``spectrogram.png`` from the report's fields and the figure data;
    the titles name the run directory and what was verified."""
    from spectral_cli.spectra_lstm import plots

    T, dtype, name = int(report["window"]), str(report["run_dtype"]), run_dir.name
    blocks = report.get("blocks") or None
    what = f"T={T}, H={report['hidden_size']}, {dtype}, {report['cell']}"
    paths = [run_dir / FIGURES["weight_hh"], run_dir / FIGURES["spectrogram"]]
    plots.weight_hh_heatmap(data["weight_hh"], blocks, f"{name}: weight_hh ({what})", paths[0])
    ref = data["ref"]
    # JSON holds an infinite error as null
    errors = np.array([_num(v) for v in report["per_window"][: ref.shape[0]]], dtype=np.float64)
    shown = f"first {ref.shape[0]} of {report['windows']} windows"
    plots.spectrogram_pair(
        data["est"],
        ref,
        errors,
        float(report["tol"]),
        f"{name}: verify-lstm {what} on {report['signal']['kind']} ({shown}); "
        f"worst {_num(report['max_error']):.2g}, tol {float(report['tol']):g}",
        paths[1],
    )
    return paths


def _num(v: Any) -> float:
    return math.inf if v is None else float(v)


def replot(run: Path) -> list[Path]:
    """Redraw the figures of a ``spectral verify-lstm`` run from its ``report.json`` and
    ``figures.npz`` (nothing is recomputed); returns the files written. A run without
    ``figures.npz`` (written since this version) or of another command is bad input."""
    report, data = saved_figure_data(
        run, "verify-lstm", "run 'spectral verify-lstm' again with the same config.yaml", ARRAYS
    )
    try:
        return draw(run, report, data)
    except (KeyError, TypeError, IndexError) as exc:
        raise BadInput(f"{run} lacks what its figures need ({exc!r})") from None
