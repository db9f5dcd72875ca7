"""Spectra-LSTM core: run the cell contract, compare with ``torch.fft``, (de)serialise weights.

The construction and its error analysis are in
:mod:`spectral_cli.spectra_lstm.construct`, the state-dict helpers in
:mod:`spectral_cli.spectra_lstm.state` (both re-exported here).  This module never
imports typer or rich; the CLI wires it.  Runs use full-precision float32 matmuls on CUDA (TF32
is switched off for the duration of a run) and one intra-op thread on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from spectral_cli.spectra_lstm.construct import (
    SpectraLSTMWeights,
    check_window,
    construct,
    design_scales,
    dtype_name,
    resolve_dtype,
)
from spectral_cli.spectra_lstm.state import (
    FIELDS,
    STATE_DICT_NAMES,
    from_state_dict,
    to_state_dict,
)

__all__ = [
    "STATE_DICT_NAMES",
    "SpectraLSTMWeights",
    "VerifyResult",
    "check_signal",
    "construct",
    "default_tolerance",
    "design_scales",
    "from_state_dict",
    "reference_spectra",
    "run_cell",
    "spectrogram",
    "to_state_dict",
    "verify",
]

TOLERANCES = {"float64": 1e-12, "float32": 1e-5}
_CHUNK = 4096  # steps whose input-gate pre-activations are computed in one tensor op
_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def check_signal(signal: object, window: int, *, allow_batch: bool = False) -> torch.Tensor:
    """Validate a signal and return it as a float64 tensor (``[N]``, or ``[B, N]`` if allowed).

    Raises ``ValueError`` for an empty, non-1-D (non-1/2-D with ``allow_batch``), non-numeric or
    non-finite signal, or one shorter than one window.
    """
    T = check_window(window)
    try:
        x = torch.as_tensor(np.asarray(signal) if not torch.is_tensor(signal) else signal)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"signal is not a numeric array: {exc}") from exc
    if x.is_complex() or not (x.is_floating_point() or x.dtype in _INT_DTYPES):
        raise ValueError(f"signal must be real numbers, got dtype {x.dtype}")
    if x.ndim not in ((1, 2) if allow_batch else (1,)):
        want = "1-D (or 2-D batch)" if allow_batch else "1-D"
        raise ValueError(f"signal must be {want}, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError("signal is empty")
    x = x.detach().to(torch.float64)
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).nonzero()[0, -1])
        raise ValueError(f"signal contains a non-finite value (first at index {bad})")
    if x.shape[-1] < T:
        raise ValueError(f"signal has {x.shape[-1]} samples, shorter than one window (T={T})")
    limit = math.sqrt(torch.finfo(torch.float64).max) / T  # |sum of T samples|^2 stays finite
    biggest = float(x.abs().max())
    if biggest > limit:
        raise ValueError(
            f"signal reaches {biggest:.3g}; a window's power spectrum would overflow "
            f"float64 beyond {limit:.3g}: rescale it"
        )
    return x


def _params(w: SpectraLSTMWeights, device: torch.device | str | None) -> list[torch.Tensor]:
    return [getattr(w, name).to(device) for name in FIELDS]


@contextmanager
def _step_settings(device_type: str) -> Iterator[None]:
    """Temporarily: one intra-op CPU thread (the step matmuls are far too small to share) and, on
    CUDA, full-precision float32 matmuls (TF32 would round the lookup weights to 10 bits)."""
    threads = torch.get_num_threads()
    precision = torch.get_float32_matmul_precision()
    if device_type == "cpu" and threads > 1:
        torch.set_num_threads(1)
    if device_type == "cuda" and precision != "highest":
        torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if torch.get_float32_matmul_precision() != precision:
            torch.set_float32_matmul_precision(precision)


@torch.no_grad()
def _run(
    w: SpectraLSTMWeights,
    x: torch.Tensor,
    keep: torch.Tensor | None,
    device: torch.device | str | None,
) -> torch.Tensor:
    """Run the cell over ``x`` [B, N]; return ``h`` after each step in ``keep`` (all if None)."""
    w_ih, w_hh, b_ih, b_hh, _, _ = _params(w, device)
    x = x.to(device=w_hh.device, dtype=w_hh.dtype)
    B, N = x.shape
    h = torch.zeros(B, w.hidden_size, dtype=w_hh.dtype, device=w_hh.device)
    c = torch.zeros_like(h)
    keep_mask = torch.ones(N, dtype=torch.bool) if keep is None else keep
    keep_steps = set(keep_mask.nonzero()[:, 0].tolist())
    out: list[torch.Tensor] = []
    w_hh_t, w_ih_t = w_hh.t(), w_ih.t()
    with _step_settings(w_hh.device.type):
        for start in range(0, N, _CHUNK):
            # igates = x W_ih^T + b_ih for a chunk of steps at once; hgates per step (recurrent);
            # gates = igates + hgates, the order of torch's LSTMCell.
            igates = torch.addmm(b_ih, x[:, start : start + _CHUNK].reshape(-1, 1), w_ih_t)
            igates = igates.view(B, -1, w_ih.shape[0])
            for s in range(igates.shape[1]):
                gates = igates[:, s] + torch.addmm(b_hh, h, w_hh_t)
                i, f, g, o = gates.chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.tanh(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                if start + s in keep_steps:
                    out.append(h)
    return torch.stack(out, dim=1) if out else h.new_zeros(B, 0, w.hidden_size)


def run_cell(
    weights: SpectraLSTMWeights, signal: object, device: torch.device | str | None = None
) -> torch.Tensor:
    """Outputs ``y_t`` of the cell contract at every step: ``[N, T]`` (or ``[B, N, T]``).

    ``signal`` is cast to the weights' dtype; ``[B, N]`` runs a batch in one pass.
    """
    x = check_signal(signal, weights.window, allow_batch=True)
    hs = _run(weights, x.reshape(-1, x.shape[-1]), None, device)
    w_out, b_out = weights.readout_weight.to(hs.device), weights.readout_bias.to(hs.device)
    y = torch.matmul(hs, w_out.t()) + b_out
    return y.reshape(*x.shape, weights.window)


def spectrogram(
    weights: SpectraLSTMWeights, signal: object, device: torch.device | str | None = None
) -> torch.Tensor:
    """The cell's spectra ``[W, T]`` (or ``[B, W, T]``) for the ``W = N // T`` full windows.

    Reads ``y`` at steps ``(j+1)T - 1 + d``; a trailing partial window is ignored.  If ``d > 0``
    the signal is extended by ``d`` zeros so that the last window's readout step exists.
    """
    T, d = weights.window, weights.readout_delay
    x = check_signal(signal, T, allow_batch=True)
    x2 = x.reshape(-1, x.shape[-1])
    W = x2.shape[-1] // T
    x2 = torch.nn.functional.pad(x2[:, : W * T], (0, d))
    keep = torch.zeros(x2.shape[-1], dtype=torch.bool)
    keep[T - 1 + d :: T] = True
    hs = _run(weights, x2, keep, device)
    w_out, b_out = weights.readout_weight.to(hs.device), weights.readout_bias.to(hs.device)
    y = torch.matmul(hs, w_out.t()) + b_out
    return y.reshape(*x.shape[:-1], W, T)


def reference_spectra(signal: object, window: int) -> torch.Tensor:
    """``P_j[k] = |sum_t x_{jT+t} e^{-2 pi i k t/T}|^2`` by ``torch.fft`` in float64: ``[W, T]``."""
    T = check_window(window)
    x = check_signal(signal, T, allow_batch=True)
    W = x.shape[-1] // T
    X = torch.fft.fft(x[..., : W * T].reshape(*x.shape[:-1], W, T), dim=-1)
    return X.real.square() + X.imag.square()


@dataclass(frozen=True)
class VerifyResult:
    """Per-window max relative error ``max_k |P^ - P| / max_k P`` and the verdict."""

    per_window: list[float]
    worst_window: int
    worst_bin: int
    max_error: float
    tol: float
    passed: bool
    windows: int
    run_dtype: str
    built_dtype: str
    note: str | None = None


def default_tolerance(weights_or_dtype: SpectraLSTMWeights | torch.dtype | str) -> float:
    """1e-12 (float64) / 1e-5 (float32); for weights, the looser of run and build dtype."""
    if isinstance(weights_or_dtype, SpectraLSTMWeights):
        names = {dtype_name(weights_or_dtype.dtype), weights_or_dtype.built_dtype}
        return max(TOLERANCES[n] for n in names)
    return TOLERANCES[dtype_name(resolve_dtype(weights_or_dtype))]


def verify(
    weights: SpectraLSTMWeights,
    signal: object,
    tol: float | None = None,
    device: torch.device | str | None = None,
) -> VerifyResult:
    """Run ``signal`` (1-D) through the cell and compare with float64 ``torch.fft`` spectra.

    ``tol`` defaults to :func:`default_tolerance`; a weights/dtype mismatch is explained in
    ``note`` (float32-built weights run in float64 keep float32 accuracy, not float64's).
    """
    x = check_signal(signal, weights.window)
    if tol is None:
        tol = default_tolerance(weights)
    elif not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    ref = reference_spectra(x, weights.window)
    est = spectrogram(weights, x, device).to("cpu", torch.float64)
    diff = (est - ref).abs()
    scale = ref.amax(dim=-1)
    worst_per = diff.amax(dim=-1)
    err = worst_per / scale.clamp_min(torch.finfo(torch.float64).tiny)
    err = torch.where(scale > 0, err, torch.where(worst_per == 0, 0.0, math.inf))
    err = torch.where(torch.isnan(err), math.inf, err)
    j = int(err.argmax())
    run, built = dtype_name(weights.dtype), weights.built_dtype
    note = None
    if run != built:
        note = (
            f"weights built for {built} run in {run}: expect {built} accuracy "
            f"(~{TOLERANCES[built]:g}), not {run}'s ({TOLERANCES[run]:g})"
        )
    return VerifyResult(
        per_window=err.tolist(),
        worst_window=j,
        worst_bin=int(diff[j].argmax()),
        max_error=float(err[j]),
        tol=float(tol),
        passed=bool(err[j] <= tol),
        windows=int(err.numel()),
        run_dtype=run,
        built_dtype=built,
        note=note,
    )
