"""Orchestration of ``spectral verify-lstm``: inputs, checkpoints, verdict, outputs.

The numerics are :mod:`spectral_cli.spectra_lstm.reference` (construction, cell runner,
``torch.fft`` reference, :func:`~spectral_cli.spectra_lstm.reference.verify`); this module turns
options into weights and a signal, converts the reference's ``ValueError`` into
:class:`~spectral_cli.core.errors.BadInput` (exit 2), and writes the run directory:
``spectra_lstm.safetensors`` (when constructing), ``report.json``, ``figures.npz`` (what the
figures show) and, unless ``plots`` is off, ``weight_hh.png`` and ``spectrogram.png`` (the
report and the figures: :mod:`spectral_cli.spectra_lstm.verify_report`). Sizes are checked
before anything is allocated (:mod:`spectral_cli.spectra_lstm.verify_limits`).
The CLI only maps the report's verdict to exit 0/1.

Checkpoints: ``spectral.family = spectra-lstm`` holds the contract cell (tanh input gate).  A
trained standard ``nn.LSTM`` baseline (``spectral train spectra-lstm --init standard``) is stored
as ``spectra-lstm-standard`` -- it is *not* the contract cell, and a tool that runs every
``spectra-lstm`` file with the contract must never be handed one -- and is verified here by
running it as an ``nn.LSTM``.  Any other family is refused (exit 2).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from spectral_cli.core.checkpoint import (
    load_checkpoint,
    model_metadata,
    read_metadata,
    save_tensors,
)
from spectral_cli.core.errors import BadInput
from spectral_cli.core.replot import FIGURE_DATA
from spectral_cli.core.runs import RunDir
from spectral_cli.core.schema import Frozen
from spectral_cli.spectra_lstm import reference
from spectral_cli.spectra_lstm.signals import SIGNAL_KINDS, make_test_signal, read_signal_file
from spectral_cli.spectra_lstm.verify_limits import check_construction, check_signal_size
from spectral_cli.spectra_lstm.verify_report import (
    FIGURES,
    SignalSummary,
    VerifyReport,
    amplitude_range,
    draw,
    figure_data,
    save_figure_data,
)

CELL_FAMILY = "spectra-lstm"
STANDARD_FAMILY = "spectra-lstm-standard"
CHECKPOINT = "spectra_lstm.safetensors"


class VerifyOptions(Frozen):
    """The config of ``spectral verify-lstm`` (``config.yaml``; flags, ``--set``, ``--config``).

    ``None`` means "the default" (see :func:`prepare`): window 8 (a checkpoint: its own),
    windows 16 (a signal file: all of it), dtype float64 (a checkpoint: its own), tol 1e-12 for
    float64 and 1e-5 for float32. Ranges are checked by :func:`prepare`.
    """

    window: int | None = None
    windows: int | None = None
    dtype: Literal["float64", "float32"] | None = None
    tol: float | None = None
    signal: str = "random"
    checkpoint: Path | None = None
    seed: int = Field(default=0, ge=0, lt=2**32)
    plots: bool = True


def _bad(exc: ValueError, what: str) -> BadInput:
    return BadInput(f"{what}: {exc}")


def load_signal(opts: VerifyOptions, window: int) -> tuple[torch.Tensor, str]:
    """The float64 test signal (validated by the reference) and a description of it."""
    if opts.windows is not None and opts.windows < 1:
        raise BadInput(f"--windows must be >= 1, got {opts.windows}")
    raw: object  # a generated tensor or a file's array, checked and made a tensor below
    if opts.signal in SIGNAL_KINDS:
        check_signal_size(opts.windows or 16, window)
        n = (opts.windows or 16) * window
        raw, kind = make_test_signal(opts.signal, n, window, opts.seed), opts.signal
    else:
        raw, kind = read_signal_file(Path(opts.signal)), str(opts.signal)
    try:
        x = reference.check_signal(raw, window)
    except ValueError as exc:
        raise _bad(exc, f"--signal {opts.signal}") from None
    if opts.windows is not None:
        x = x[: opts.windows * window]
    return x, kind


def load_any(path: Path, dtype: str | None) -> tuple[Any, dict[str, str]]:
    """A ``spectra-lstm`` checkpoint as weights, or a ``spectra-lstm-standard`` one as a model."""
    family = read_metadata(path).get("spectral.family")
    if family is None:
        raise BadInput(
            f"{path} has no spectral.family metadata; pass a {CELL_FAMILY!r} "
            "checkpoint written by 'spectral verify-lstm' or 'spectral train "
            "spectra-lstm'"
        )
    if family not in (CELL_FAMILY, STANDARD_FAMILY):
        raise BadInput(
            f"{path} is a {family!r} checkpoint, expected {CELL_FAMILY!r} "
            "(write one with 'spectral verify-lstm' or 'spectral train spectra-lstm')"
        )
    tensors, meta = load_checkpoint(path, family)
    try:
        config = json.loads(meta.get("spectral.config", ""))
    except ValueError as exc:
        raise BadInput(f"checkpoint {path} is not a valid {family} checkpoint ({exc})") from None
    cells = sorted(path.parent.glob(f"*/{CHECKPOINT}"))
    if isinstance(config, dict) and "family" in config and cells:  # a run's pipeline config
        raise BadInput(
            f"{path} is the training checkpoint of a 'spectral train spectra-lstm' "
            f"run; verify one of its models instead, e.g. --checkpoint {cells[0]}"
        )
    try:
        if family == STANDARD_FAMILY:
            from spectral_cli.spectra_lstm.models import StandardLSTM

            model = StandardLSTM(
                reference.check_window(config["window"]), int(config["hidden_size"])
            )
            model = model.to(reference.resolve_dtype(dtype or config["dtype"]))
            model.load_state_dict(tensors)
            return model, meta
        return reference.from_state_dict(tensors, config, dtype), meta
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise BadInput(f"checkpoint {path} is not a valid {family} checkpoint ({exc})") from None


def relative_errors(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``max_k |P^-P| / max_k P`` per window, as the reference's ``verify`` defines it."""
    diff = (est.double() - ref).abs().amax(dim=-1)
    scale = ref.amax(dim=-1)
    err = diff / scale.clamp_min(torch.finfo(torch.float64).tiny)
    err = torch.where(scale > 0, err, torch.where(diff == 0, 0.0, math.inf))
    return torch.where(torch.isnan(err), math.inf, err)


def verify_standard(model: Any, signal: torch.Tensor, tol: float | None) -> reference.VerifyResult:
    """The reference's verdict for a standard ``nn.LSTM`` baseline (no exactness is expected)."""
    T = model.window
    run = reference.dtype_name(model.readout.weight.dtype)
    tol = reference.default_tolerance(run) if tol is None else tol
    ref = reference.reference_spectra(signal.cpu(), T)
    est = model.spectrogram(signal).cpu().double()
    err = relative_errors(est, ref)
    j = int(err.argmax())
    return reference.VerifyResult(
        per_window=err.tolist(),
        worst_window=j,
        worst_bin=int((est[j] - ref[j]).abs().argmax()),
        max_error=float(err[j]),
        tol=float(tol),
        passed=bool(err[j] <= tol),
        windows=err.numel(),
        run_dtype=run,
        built_dtype=run,
        note="a standard nn.LSTM (sigmoid input gate) is not the exact construction",
    )


def save_cell(path: Path, weights: reference.SpectraLSTMWeights, **extra: Any) -> None:
    """Write the contract checkpoint: six tensors + ``spectral.family``/``spectral.config``."""
    tensors, config = reference.to_state_dict(weights)
    if weights.scales:
        extra.setdefault("scales", weights.scales)
    save_tensors(path, tensors, model_metadata(CELL_FAMILY, config, **extra))


@dataclass(frozen=True)
class Prepared:
    """Validated inputs: every bad-input error is raised before anything is written."""

    opts: VerifyOptions
    model: Any  # SpectraLSTMWeights or a StandardLSTM
    window: int
    source: str
    signal: torch.Tensor
    kind: str
    started: float
    scales: dict[str, float] | None  # the construction's scales, if known (not for trained)


def prepare(opts: VerifyOptions) -> Prepared:
    """Build or load the weights and load the signal; raises BadInput for any bad input."""
    started = time.perf_counter()
    if opts.checkpoint is not None:
        model, meta = load_any(opts.checkpoint, opts.dtype)
        scales = _stored_scales(meta)
        window = model.window
        if opts.window is not None and opts.window != window:
            raise BadInput(
                f"--window {opts.window} does not match the checkpoint's window {window}"
            )
        source = str(opts.checkpoint)
    else:
        try:
            T = reference.check_window(opts.window if opts.window is not None else 8)
            check_construction(T)
            model = reference.construct(T, opts.dtype or "float64")
        except ValueError as exc:
            raise _bad(exc, "--window/--dtype") from None
        window, source, scales = model.window, "construction", model.scales
    if opts.tol is not None and not (math.isfinite(opts.tol) and opts.tol >= 0):
        raise BadInput(f"--tol must be a finite number >= 0, got {opts.tol}")
    signal, kind = load_signal(opts, window)
    return Prepared(opts, model, window, source, signal, kind, started, scales)


def run_verify(prep: Prepared, run_dir: RunDir, device: torch.device) -> VerifyReport:
    """Verify, write the outputs; returns the report (the verdict is ``passed``)."""
    opts, model, window, signal = prep.opts, prep.model, prep.window, prep.signal
    files: dict[str, str] = {"config": run_dir.write_config(opts)}
    standard = not isinstance(model, reference.SpectraLSTMWeights)
    if standard:
        result = verify_standard(model.to(device), signal, opts.tol)
    else:
        try:
            result = reference.verify(model, signal, opts.tol, device)
        except ValueError as exc:
            raise _bad(exc, "verify") from None
    if not standard and opts.checkpoint is None:
        save_cell(run_dir / CHECKPOINT, model)
        files["checkpoint"] = CHECKPOINT
    data = figure_data(model, signal, device)
    save_figure_data(run_dir / FIGURE_DATA, data)
    files["figure_data"] = FIGURE_DATA
    if opts.plots:
        files.update(FIGURES)
    hidden = model.hidden_size
    report = VerifyReport(
        config={
            "window": window,
            "windows": result.windows,
            "dtype": result.run_dtype,
            "tol": opts.tol,
            "signal": opts.signal,
            "checkpoint": str(opts.checkpoint or ""),
            "seed": opts.seed,
        },
        seed=opts.seed,
        device=str(device),
        passed=result.passed,
        max_error=result.max_error,
        tol=result.tol,
        worst_window=result.worst_window,
        worst_bin=result.worst_bin,
        windows=result.windows,
        window=window,
        hidden_size=hidden,
        readout_delay=0 if standard else model.readout_delay,
        cell="nn.LSTM (sigmoid input gate)" if standard else "contract (tanh input gate)",
        source=prep.source,
        run_dtype=result.run_dtype,
        built_dtype=result.built_dtype,
        note=result.note,
        blocks=None if standard else {k: list(v) for k, v in model.blocks.items()},
        valid_amplitude=amplitude_range(prep.scales),
        signal=SignalSummary(
            kind=prep.kind,
            samples=int(signal.numel()),
            max_abs=float(signal.abs().max()),
            rms=float(signal.square().mean().sqrt()),
        ),
        per_window=result.per_window,
        wall_seconds=time.perf_counter() - prep.started,
        files=files,
    )
    files["report"] = RunDir.REPORT
    if opts.plots:
        draw(run_dir.path, report.model_dump(mode="json"), data)
    run_dir.write_report(report)
    return report


def _stored_scales(meta: dict[str, str]) -> dict[str, float] | None:
    """``spectral.scales`` of a checkpoint written from a construction (absent once trained)."""
    try:
        sc = json.loads(meta["spectral.scales"])
        return {k: float(sc[k]) for k in ("input_bound", "min_peak_magnitude")}
    except (KeyError, ValueError, TypeError):
        return None
