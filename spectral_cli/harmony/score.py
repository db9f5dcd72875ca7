"""``spectral harmony-score``: score latent vectors, or a trained HAE's latents.

Two modes, both returning a pydantic report (the CLI prints it and writes ``report.json``):

- :func:`score_vectors`: the vectors of a ``.json``, ``.npy`` or ``.safetensors`` file
  (:mod:`spectral_cli.harmony.vectors`), scored in float64 with
  :func:`spectral_cli.harmony.measures.harmony_scores`.
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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from spectral_cli.core.errors import BadInput
from spectral_cli.core.report import Report
from spectral_cli.core.runs import RunDir
from spectral_cli.core.schema import Frozen
from spectral_cli.harmony import detection
from spectral_cli.harmony.dissonance import CriticalBand
from spectral_cli.harmony.measures import DEFAULT_CRITICAL_BAND, Variant, harmony_scores
from spectral_cli.harmony.names import current_name, quiet_renames
from spectral_cli.harmony.signal_file import load_signals
from spectral_cli.harmony.vectors import load_vectors


class ScoreConfig(Frozen):
    """The config of ``spectral harmony-score`` (``config.yaml``; flags, ``--set``, ``--config``).

    Exactly one of ``vectors`` / ``checkpoint``; ``data`` is used with ``checkpoint``, ``alpha``
    and ``beta`` with ``vectors``. ``variant`` ``None``: fixed (a checkpoint: the model's own);
    ``critical_band`` ``None``: the variant's own. ``seed`` draws the invalid signals; ``None``
    (the default) scores a checkpoint with its run's own test invalid set (seed
    ``data.invalid_seed + 1``), so the AUROC agrees with the run's ``report.json``.
    """

    vectors: Path | None = None
    checkpoint: Path | None = None
    data: str = "mnist1d"
    variant: Variant | None = None
    critical_band: CriticalBand | None = None
    alpha: float = Field(default=1.0, allow_inf_nan=False)
    beta: float = Field(default=0.5, allow_inf_nan=False)
    seed: int | None = Field(default=None, ge=0, lt=2**32)

    @field_validator("variant", "critical_band", mode="before")
    @classmethod
    def _renamed(cls, value: Any, info: ValidationInfo) -> Any:
        """``seed`` (deprecated) is ``original``."""
        if not isinstance(value, str):
            return value
        return current_name(value, str(info.field_name))

    @model_validator(mode="after")
    def _options_apply(self) -> ScoreConfig:
        """An option of the other mode is refused, not silently ignored."""
        defaults = ScoreConfig.model_fields
        if self.checkpoint is not None:
            for key in ("alpha", "beta"):
                if getattr(self, key) != defaults[key].default:
                    raise ValueError(
                        f"--{key} applies to --vectors; a checkpoint is scored with its "
                        "model's own weights (drop it)"
                    )
        if self.vectors is not None:
            if self.data != defaults["data"].default:
                raise ValueError("--data applies to --checkpoint (signals through a model)")
            if self.seed is not None:
                raise ValueError("--seed applies to --checkpoint (it draws invalid signals)")
        return self


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


class HarmonyCheckpointReport(Report, detection.Detection):
    """``--checkpoint`` mode: harmony of valid vs invalid inputs through a trained HAE."""

    command: str = "harmony-score"
    checkpoint: str
    data: str
    variant: str
    critical_band: str
    n_valid: int
    n_invalid: int
    invalid_set: str = ""  # which invalid signals: the run's own test set, or drawn with --seed
    files: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"AUROC {self.auroc:.3f} (valid H mean {self.harmony_valid['mean']:.4g}, "
            f"invalid {self.harmony_invalid['mean']:.4g}) on {self.n_valid} valid signals; "
            f"invalid set: {self.invalid_set}"
        )


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
    variant: Variant = "fixed",
    critical_band: CriticalBand | None = None,
    alpha: float = 1.0,
    beta: float = 0.5,
) -> HarmonyScoreReport:
    """Score every vector of ``path`` (see the module docstring)."""
    arr = load_vectors(path)
    band = critical_band or DEFAULT_CRITICAL_BAND[variant]
    start = time.perf_counter()
    s = harmony_scores(torch.from_numpy(arr), variant, band, alpha, beta)
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
    """The HAE model and its run config from a ``spectral train hae`` checkpoint, or the sparse
    autoencoder baseline such a run trains (``models/sae.safetensors``: the same architecture,
    scored the same way)."""
    from pydantic import ValidationError

    from spectral_cli.core.checkpoint import check_state_dict, load_checkpoint
    from spectral_cli.harmony.models import FAMILY, SAE_FAMILY, HAERunConfig, build_hae

    tensors, meta = load_checkpoint(path)
    if meta.get("spectral.family") not in (FAMILY, SAE_FAMILY):
        raise BadInput(
            f"{path} is a {meta.get('spectral.family')!r} checkpoint; --checkpoint takes a "
            f"{FAMILY} run's model.safetensors or its models/sae.safetensors"
        )
    try:
        with quiet_renames():  # written before 'seed' became 'original': not the user's to fix
            cfg = HAERunConfig.model_validate(json.loads(meta["spectral.config"]))
        length = int(json.loads(meta["spectral.data_info"])["signal_length"])
        model = build_hae(cfg.model, length)
        check_state_dict(model.state_dict(), tensors, path)
        model.load_state_dict(tensors)
    except (KeyError, ValueError, TypeError, RuntimeError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{path} is not a usable hae checkpoint ({first})") from None
    return model.to(device).eval(), cfg


def score_checkpoint(
    path: Path,
    data: str,
    out_dir: RunDir,
    device: torch.device,
    seed: int | None,
    variant: str | None = None,
    critical_band: str | None = None,
    plots: bool = True,
) -> HarmonyCheckpointReport:
    """Encode valid and invalid signals with the HAE in ``path``; with ``plots`` write the
    histogram (only once the scores are known to be finite: a refused model leaves no figure)."""
    from spectral_cli.harmony.invalid import invalid_sets
    from spectral_cli.harmony.objective import score_kwargs
    from spectral_cli.harmony.plots import draw_histogram

    model, cfg = load_hae(path, device)
    x, y, source = load_signals(data, model.signal_length)
    kwargs = score_kwargs(cfg.model)
    if variant is not None:
        kwargs["variant"] = variant
        kwargs["critical_band"] = None if variant != cfg.model.variant else kwargs["critical_band"]
    if critical_band is not None:
        kwargs["critical_band"] = critical_band
    band = kwargs["critical_band"] or DEFAULT_CRITICAL_BAND[kwargs["variant"]]
    own = cfg.data.invalid_seed + 1  # the seed of the run's test invalid set (harmony.family)
    if seed is None:
        seed, which = own, f"the run's own test set (data.invalid_seed {own - 1} + 1)"
    else:
        which = f"drawn with --seed {seed}" + (" (the run's own)" if seed == own else "")
    invalid = invalid_sets(x, y, seed)
    found, values = detection.detector(model, x, invalid, device, kwargs)
    n_inv = sum(int(v.shape[0]) for v in invalid.values())
    if not all(math.isfinite(v) for v in found.harmony_valid.values()):
        raise BadInput(f"{path}: the model produced non-finite latents")
    files = {}
    if plots:
        files["histogram"] = draw_histogram(values, path, kwargs["variant"], band, out_dir.path)
    return HarmonyCheckpointReport(
        config={
            "checkpoint": str(path),
            "data": data,
            "variant": kwargs["variant"],
            "critical_band": band,
            "invalid_seed": seed,
            "invalid_set": which,
        },
        seed=seed,
        device=str(device),
        checkpoint=str(path),
        data=source,
        variant=kwargs["variant"],
        critical_band=band,
        n_valid=int(x.shape[0]),
        n_invalid=n_inv,
        invalid_set=which,
        **found.model_dump(),
        files=files,
    )


def save_run(run_dir: RunDir, settings: BaseModel, report: Report) -> None:
    """Write the command's ``config.yaml`` and ``report.json`` into ``run_dir`` (named in the
    report's ``files``)."""
    files = getattr(report, "files", {})
    files["config"] = run_dir.write_config(settings)
    files["report"] = RunDir.REPORT
    run_dir.write_report(report)
