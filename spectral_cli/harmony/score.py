"""``spectral harmony-score``: score latent vectors, or a trained HAE's latents.

Two modes, both returning a pydantic report (the CLI prints it and writes ``report.json``):

- :func:`score_vectors`: vectors from ``.json`` (a list of equal-length lists of numbers; a flat
  list is one vector), ``.npy`` or ``.safetensors`` (one tensor, or the tensor named ``latents``).
  Arrays with more than two dimensions are flattened over their leading dimensions in C order.
  Scores are computed in float64 with :func:`spectral_cli.harmony.measures.harmony_scores`.
- :func:`score_checkpoint`: a ``spectral train hae`` checkpoint (family ``hae``; any other file
  is refused) encodes valid signals (MNIST-1D test split, or a user file) and the three generated
  invalid kinds (:mod:`spectral_cli.harmony.invalid`); reports harmony distributions, the AUROC of
  H as a valid-vs-invalid detector (overall and per kind) and a histogram PNG.

Every bad input is :class:`~spectral_cli.core.errors.BadInput` (exit 2, one line).
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field

from spectral_cli.core.arrays import class_labels, parse_json, real_array
from spectral_cli.core.errors import BadInput
from spectral_cli.core.report import Report
from spectral_cli.core.schema import Frozen
from spectral_cli.harmony import detection as hae_eval
from spectral_cli.harmony.measures import (
    DEFAULT_CRITICAL_BAND,
    CriticalBand,
    Variant,
    harmony_scores,
)

VECTOR_SUFFIXES = (".json", ".npy", ".safetensors")


class ScoreConfig(Frozen):
    """The config of ``spectral harmony-score`` (``config.yaml``; flags, ``--set``, ``--config``).

    Exactly one of ``vectors`` / ``checkpoint``; ``data`` is used with ``checkpoint``, ``alpha``
    and ``beta`` with ``vectors``. ``variant`` ``None``: fixed (a checkpoint: the model's own);
    ``critical_band`` ``None``: the variant's own. ``seed`` draws the invalid signals.
    """

    vectors: Path | None = None
    checkpoint: Path | None = None
    data: str = "mnist1d"
    variant: Variant | None = None
    critical_band: CriticalBand | None = None
    alpha: float = Field(default=1.0, allow_inf_nan=False)
    beta: float = Field(default=0.5, allow_inf_nan=False)
    seed: int = Field(default=0, ge=0, lt=2**32)


class VectorScore(BaseModel):
    alignment: float
    dissonance: float
    harmony: float


class HarmonyScoreReport(Report):
    """``--vectors`` mode: one score per vector in input order, plus summary statistics."""

    command: str = "harmony-score"
    source: str
    variant: str
    critical_band: str
    n_vectors: int
    length: int
    seconds: float
    statistics: dict[str, dict[str, float]]
    scores: list[VectorScore]
    files: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        h = self.statistics["harmony"]
        return (
            f"{self.n_vectors} vectors of length {self.length} ({self.variant}, "
            f"{self.critical_band}): harmony mean {h['mean']:.4g}, std {h['std']:.4g}"
        )


class HarmonyCheckpointReport(Report, hae_eval.Detection):
    """``--checkpoint`` mode: harmony of valid vs invalid inputs through a trained HAE."""

    command: str = "harmony-score"
    checkpoint: str
    data: str
    variant: str
    critical_band: str
    n_valid: int
    n_invalid: int
    files: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"AUROC {self.auroc:.3f} (valid H mean {self.harmony_valid['mean']:.4g}, "
            f"invalid {self.harmony_invalid['mean']:.4g}) on {self.n_valid} valid signals"
        )


def _json_vectors(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not UTF-8 text") from None
    data = parse_json(text, str(path))
    if not isinstance(data, list) or not data:
        raise BadInput(f"{path} must hold a non-empty JSON list of equal-length lists of numbers")
    rows = data if all(isinstance(r, list) for r in data) else None
    if rows is None:
        if any(isinstance(r, list) for r in data):
            raise BadInput(f"{path} mixes lists and scalars; give a list of equal-length lists")
        rows = [data]
    length = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != length:
            raise BadInput(
                f"{path}: ragged input, vector {i} has length {len(row)}, vector 0 "
                f"has {length}; all vectors must have the same length"
            )
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise BadInput(f"{path}: vector {i} entry {j} is {v!r}, not a number")
    return _rows_as_floats(rows, path)


def _rows_as_floats(rows: list[list[Any]], path: Path) -> np.ndarray:
    try:
        return np.asarray(rows, dtype=np.float64)
    except OverflowError:
        raise BadInput(f"{path}: a number is beyond float64's range") from None


def _npy_vectors(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BadInput(f"{path} is not a readable numeric .npy file ({exc})") from None


def _safetensors_vectors(path: Path) -> np.ndarray:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            keys = list(fh.keys())
            if len(keys) == 1:
                key = keys[0]
            elif "latents" in keys:
                key = "latents"
            else:
                raise BadInput(
                    f"{path} holds {len(keys)} tensors ({', '.join(keys[:5])}); "
                    "it needs exactly one tensor or one named 'latents'"
                )
            tensor = fh.get_tensor(key)
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInput(f"{path} is not a readable safetensors file ({exc})") from None
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise BadInput(f"{path}: tensor {key!r} has dtype {tensor.dtype}; give real numbers")
    return tensor.double().numpy()


def load_vectors(path: Path) -> np.ndarray:
    """(n, N) float64 array of finite values from a vectors file; anything else is BadInput."""
    if not path.is_file():
        raise BadInput(f"--vectors {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise BadInput(
            f"--vectors {path}: unsupported file type {suffix or '(none)'!r}; "
            f"use {', '.join(VECTOR_SUFFIXES)}"
        )
    loader = {".json": _json_vectors, ".npy": _npy_vectors, ".safetensors": _safetensors_vectors}
    arr = loader[suffix](path)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise BadInput(f"--vectors {path}: values have dtype {arr.dtype}; give real numbers")
    if arr.ndim == 0 or arr.size == 0:
        raise BadInput(
            f"--vectors {path} is empty (shape {arr.shape}); give at least one "
            "vector of length >= 1"
        )
    arr = arr.astype(np.float64).reshape(-1, arr.shape[-1]) if arr.ndim > 1 else arr[None, :]
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise BadInput(f"--vectors {path}: vector {bad} holds a non-finite value (nan/inf)")
    return arr


def _stats(t: torch.Tensor) -> dict[str, float]:
    v = t.numpy()
    return {
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "median": float(np.median(v)),
        "max": float(v.max()),
    }


def score_vectors(
    path: Path,
    variant: str = "fixed",
    critical_band: str | None = None,
    alpha: float = 1.0,
    beta: float = 0.5,
) -> HarmonyScoreReport:
    """Score every vector of ``path`` (see the module docstring)."""
    arr = load_vectors(path)
    band = critical_band or DEFAULT_CRITICAL_BAND[variant]
    start = time.perf_counter()
    s = harmony_scores(torch.from_numpy(arr), variant, band, alpha, beta)  # type: ignore[arg-type]
    columns = torch.stack(s, dim=-1).tolist()
    seconds = time.perf_counter() - start
    for name, t in zip(s._fields, s, strict=True):
        if not torch.isfinite(t).all():
            raise BadInput(f"--vectors {path}: the {name} overflowed (values too large to score)")
    return HarmonyScoreReport(
        config={
            "vectors": str(path),
            "variant": variant,
            "critical_band": band,
            "alpha": alpha,
            "beta": beta,
        },
        seed=0,
        device="cpu",
        source=str(path),
        variant=variant,
        critical_band=band,
        n_vectors=arr.shape[0],
        length=arr.shape[1],
        seconds=seconds,
        statistics={name: _stats(t) for name, t in zip(s._fields, s, strict=True)},
        scores=[VectorScore(alignment=a, dissonance=d, harmony=h) for a, d, h in columns],
    )


def load_hae(path: Path, device: torch.device) -> tuple[Any, Any]:
    """The HAE model and its run config from a ``spectral train hae`` checkpoint."""
    from pydantic import ValidationError

    from spectral_cli.core.checkpoint import check_state_dict, load_checkpoint
    from spectral_cli.harmony.models import FAMILY, HAERunConfig, build_hae

    tensors, meta = load_checkpoint(path, FAMILY)
    try:
        cfg = HAERunConfig.model_validate(json.loads(meta["spectral.config"]))
        length = int(json.loads(meta["spectral.data_info"])["signal_length"])
        model = build_hae(cfg.model, length)
        check_state_dict(model.state_dict(), tensors, path)
        model.load_state_dict(tensors)
    except (KeyError, ValueError, TypeError, RuntimeError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{path} is not a usable hae checkpoint ({first})") from None
    return model.to(device).eval(), cfg


def load_signals(data: str, length: int) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """Valid signals: ``mnist1d`` (its test split) or FILE (.npz with x_test or x, optional
    y_test / y; or a 2-D .npy); their length must match the model's input."""
    if data == "mnist1d":
        from spectral_cli.core.datasets.mnist1d import load_mnist1d

        arrays = load_mnist1d()
        x, y, source = arrays["x_test"], arrays["y_test"], "mnist1d test split"
    else:
        path, y = Path(data), None
        if not path.is_file():
            raise BadInput(f"--data {path} does not exist; pass mnist1d or an .npz/.npy file")
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise BadInput(f"--data {path} is not a readable .npz/.npy file ({exc})") from None
        if isinstance(loaded, np.ndarray):
            x = loaded
        else:
            with loaded:
                key = "x_test" if "x_test" in loaded.files else "x"
                if key not in loaded.files:
                    raise BadInput(f"--data {path} holds no array x_test or x")
                x = loaded[key]
                ykey = "y_test" if key == "x_test" else "y"
                y = loaded[ykey] if ykey in loaded.files else None
        source = str(path)
    if x.ndim != 2 or x.shape[0] < 2:
        raise BadInput(
            f"--data {source}: signals must be a numeric 2-D array with >= 2 rows, "
            f"got shape {x.shape}"
        )
    x = real_array(x, f"--data {source}: signals")
    if x.shape[1] != length:
        raise BadInput(
            f"--data {source}: signals have length {x.shape[1]}, the model expects {length}"
        )
    if not np.isfinite(x).all():
        raise BadInput(f"--data {source}: signals hold non-finite values")
    biggest = float(np.abs(x).max())
    if biggest > float(np.finfo(np.float32).max):  # the model computes in float32
        raise BadInput(
            f"--data {source}: signals reach {biggest:.3g}, beyond float32's range "
            f"({float(np.finfo(np.float32).max):.3g}); rescale them"
        )
    labels = None
    if y is not None and y.shape == (x.shape[0],):
        labels = torch.from_numpy(class_labels(y, f"--data {source}: labels"))
    return torch.from_numpy(x.astype(np.float32)), labels, source


def score_checkpoint(
    path: Path,
    data: str,
    out_dir: Path,
    device: torch.device,
    seed: int,
    variant: str | None = None,
    critical_band: str | None = None,
) -> HarmonyCheckpointReport:
    """Encode valid and invalid signals with the HAE in ``path``; write the histogram PNG."""
    from spectral_cli.harmony.invalid import invalid_sets
    from spectral_cli.harmony.objective import score_kwargs
    from spectral_cli.harmony.plots import harmony_histograms

    model, cfg = load_hae(path, device)
    x, y, source = load_signals(data, model.signal_length)
    kwargs = score_kwargs(cfg.model)
    if variant is not None:
        kwargs["variant"] = variant
        kwargs["critical_band"] = None if variant != cfg.model.variant else kwargs["critical_band"]
    if critical_band is not None:
        kwargs["critical_band"] = critical_band
    band = kwargs["critical_band"] or DEFAULT_CRITICAL_BAND[kwargs["variant"]]
    invalid = invalid_sets(x, y, seed)
    detection, values = hae_eval.detector(model, x, invalid, device, kwargs)
    harmony_histograms(
        {"hae": values},
        f"harmony H of {path.name} ({kwargs['variant']}, {band})",
        out_dir / "harmony_hist.png",
    )
    n_inv = sum(int(v.shape[0]) for v in invalid.values())
    if not all(math.isfinite(v) for v in detection.harmony_valid.values()):
        raise BadInput(f"{path}: the model produced non-finite latents")
    return HarmonyCheckpointReport(
        config={
            "checkpoint": str(path),
            "data": data,
            "variant": kwargs["variant"],
            "critical_band": band,
            "invalid_seed": seed,
        },
        seed=seed,
        device=str(device),
        checkpoint=str(path),
        data=source,
        variant=kwargs["variant"],
        critical_band=band,
        n_valid=int(x.shape[0]),
        n_invalid=n_inv,
        **detection.model_dump(),
        files={"histogram": "harmony_hist.png", "report": "report.json"},
    )
