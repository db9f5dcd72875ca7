"""What ``spectral verify-lstm`` writes besides the checkpoint: the report model and the figures.

:class:`VerifyReport` is ``report.json`` (``per_window`` is ``max_k |P^-P| / max_k P``, the
reference's error measure); :func:`plot_verification` draws ``weight_hh.png`` (the recurrent
matrix, blocks marked) and ``spectrogram.png`` (estimate, ``torch.fft`` reference and the error
per window). The verification itself is :mod:`spectral_cli.spectra_lstm.verify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field

from spectral_cli.core.report import Report
from spectral_cli.spectra_lstm import reference

PLOT_WINDOWS = 256  # windows shown in spectrogram.png (windows are independent: exact resets)


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


def plot_verification(
    model: Any,
    signal: torch.Tensor,
    result: reference.VerifyResult,
    run_dir: Path,
    files: dict[str, str],
    device: torch.device,
) -> None:
    """``weight_hh.png`` and ``spectrogram.png`` (at most ``PLOT_WINDOWS`` windows) into
    ``run_dir``, named in ``files``."""
    from spectral_cli.spectra_lstm import plots

    T = model.window
    shown = signal[: PLOT_WINDOWS * T]
    if isinstance(model, reference.SpectraLSTMWeights):
        est = reference.spectrogram(model, shown, device).cpu().double()
    else:
        est = model.spectrogram(shown.to(device)).cpu().double()
    if isinstance(model, reference.SpectraLSTMWeights):
        whh, blocks = model.weight_hh.double().cpu().numpy(), model.blocks
    else:
        whh, blocks = model.weight_hh().cpu().numpy(), {"all": (0, model.hidden_size)}
    plots.weight_hh_heatmap(
        whh,
        blocks,
        f"weight_hh (T={T}, H={model.hidden_size}, {result.run_dtype})",
        run_dir / "weight_hh.png",
    )
    ref = reference.reference_spectra(shown, T)
    errors = torch.tensor(result.per_window[: ref.shape[0]], dtype=torch.float64)
    plots.spectrogram_pair(
        est.numpy(),
        ref.numpy(),
        errors.numpy(),
        result.tol,
        f"T={T}, {result.run_dtype}: worst {result.max_error:.2g}",
        run_dir / "spectrogram.png",
    )
    files["weight_hh"], files["spectrogram"] = "weight_hh.png", "spectrogram.png"
