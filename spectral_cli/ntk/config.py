"""Run schema of ``spectral ntk`` (issue 8): kernel, task, MLP, Fourier mapping, GD, sweep.

Layering as everywhere: schema defaults < ``configs/ntk-toy.yaml`` < ``--config`` < ``--set`` <
the command's own flags (``--depth`` is ``--set model.depth=...``). Values that pydantic cannot
check alone (a p sweep with a non-toy encoding, ``--kernel analytic`` with a model the analytic
kernel does not cover) are refused by :func:`check_ntk_config` with a one-line ``BadInput``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from spectral_cli.core.errors import BadInput
from spectral_cli.core.limits import MAX_COUNT, check_elements
from spectral_cli.core.schema import Frozen

ENCODING_NAMES = ("none", "basic", "toy", "posenc", "gauss")
DEFAULT_M = 16
"""Frequencies of posenc / gauss (and of toy on a task without a grid) when ``model.m`` is unset."""


def natural_m(encoding: str, n_grid: int | None) -> int:
    """The number of frequencies an encoding uses when ``model.m`` is not given.

    ``toy`` on a task with a grid of ``N`` points (toy1d: ``N = n_train * stride`` = 256): the
    original document's full Fourier basis ``b_j = j``, ``j = 1 .. N/2`` (128 frequencies, up to the
    grid's Nyquist frequency). The original document's 1-D toy defines the mapping this way; with a
    narrow basis (m = 16) the p trade-off it describes nearly vanishes (issue 16). ``toy`` on a task
    file (no grid) and ``posenc`` / ``gauss`` (the original document's higher-dimensional section
    leaves m free): 16.
    """
    if encoding == "toy" and n_grid is not None and n_grid >= 2:
        return n_grid // 2
    return DEFAULT_M


class NTKTask(Frozen):
    """``name``: ``toy1d`` or an ``.npz`` task file (see :mod:`spectral_cli.ntk.tasks`).

    toy1d: a grid of ``n_train * stride`` points in [0, 1) (``n_train`` default 32); every
    ``stride``-th point is a training point, the others are test points (``n_test``: keep that
    many of them, evenly spaced; default all). Targets: random signals with amplitude spectrum
    ``(1 + f)^(-slope / 2)`` for ``f < grid / 4`` (``slope = 2``: amplitude 1/f, Tancik et
    al.'s ``data_power = 1``). ``signals`` targets are drawn (seeds ``seed .. seed + signals - 1``).
    """

    name: str = "toy1d"
    n_train: int | None = Field(default=None, ge=2, description="toy1d: 32; a file: all rows")
    n_test: int | None = Field(default=None, ge=1)
    stride: int = Field(default=8, ge=2)
    slope: float = Field(default=2.0, ge=0.0, allow_inf_nan=False)
    signals: int = Field(default=1, ge=1, le=1000)


class NTKModelConfig(Frozen):
    """The MLP (contract of :class:`~spectral_cli.ntk.mlp.NTKMLP`) and its input mapping.

    ``m``: number of frequencies; ``None`` (the default) means the encoding's natural default,
    resolved once the task is known (:func:`natural_m`, :func:`resolved_m`); an explicit ``m``
    (``--m``) overrides it for every encoding. Reports record the resolved number.
    """

    infinite_values = frozenset({"p"})  # p = inf: the toy encoding's limit (a = 1, 0, ...)
    depth: int = Field(default=4, ge=1, le=1000)
    width: int = Field(default=256, ge=1)
    parameterization: Literal["ntk", "standard"] = "ntk"
    activation: Literal["relu", "tanh"] = "relu"
    w_std: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)  # 0: every weight is 0
    b_std: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    dtype: Literal["float64", "float32"] = "float64"
    encoding: str = "toy"
    p: float = Field(default=1.0, description="toy: a_j = j^-p (p >= 0, inf allowed)")
    m: int | None = Field(
        default=None,
        ge=1,
        description="None: natural_m (toy on toy1d: the full basis N/2 of the grid; otherwise 16)",
    )
    scale: float = Field(default=10.0, gt=0.0, allow_inf_nan=False)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        if v not in ENCODING_NAMES:
            raise ValueError(f"unknown encoding {v!r}; choose one of {', '.join(ENCODING_NAMES)}")
        return v

    @field_validator("p")
    @classmethod
    def _p_nonnegative(cls, v: float) -> float:
        if math.isnan(v) or v < 0:
            raise ValueError("p must be >= 0 (or inf)")
        return v


class NTKTrain(Frozen):
    """Full-batch gradient descent on ``L = 1/2 sum_i (f(x_i) - y_i)^2`` (a sum, not a mean).

    ``steps = None``: 0 for a plain run, ``sweep_steps`` for a sweep. ``lr = None``: ``1 /
    lambda_max`` of the train kernel (half the stability limit ``2 / lambda_max``).
    ``record_every``: steps between recorded predictions (default ``max(1, steps // 50)``).
    """

    steps: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    sweep_steps: int = Field(default=1000, ge=1, le=MAX_COUNT)
    lr: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    record_every: int | None = Field(default=None, ge=1, le=MAX_COUNT)


class NTKSweep(Frozen):
    """``param``: ``p`` (toy encoding) or ``scale`` (posenc / gauss); ``values`` to try."""

    infinite_items = frozenset({"values"})  # p = inf: the toy encoding's limit
    param: Literal["p", "scale"] | None = None
    values: list[float] = Field(default_factory=list)


class NTKRunConfig(Frozen):
    """A complete ``spectral ntk`` run."""

    command: Literal["ntk"] = "ntk"
    seed: int = 0
    kernel: Literal["empirical", "analytic"] = "empirical"
    task: NTKTask = NTKTask()
    model: NTKModelConfig = NTKModelConfig()
    train: NTKTrain = NTKTrain()
    sweep: NTKSweep = NTKSweep()

    def contract(self, n_grid: int | None = None) -> dict[str, object]:
        """The model fields of the output contract (``spectral.config``, report ``config``).

        ``m`` is the number of frequencies actually used (:func:`resolved_m` on the task's grid
        of ``n_grid`` points), never ``None``.
        """
        m = self.model
        return {
            "parameterization": m.parameterization,
            "w_std": m.w_std,
            "b_std": m.b_std,
            "depth": m.depth,
            "width": m.width,
            "encoding": m.encoding,
            "activation": m.activation,
            "p": m.p,
            "m": resolved_m(m, m.encoding, n_grid),
            "scale": m.scale,
            "in_features": 1,
            "dtype": m.dtype,
            "encoding_seed": self.seed,
        }


def resolved_m(model: NTKModelConfig, encoding: str, n_grid: int | None) -> int:
    """``model.m`` if given, else :func:`natural_m` of ``encoding`` on an ``n_grid``-point grid."""
    return model.m if model.m is not None else natural_m(encoding, n_grid)


def _check_sizes(cfg: NTKRunConfig) -> None:
    """Refuse settings whose MLP, input features, kernels or recorded predictions break the
    project's one size rule (:mod:`spectral_cli.core.limits`), instead of an out-of-memory kill
    with no message, or exit 3 after the run directory was made. Only the toy task's sizes are
    known here; a task file is checked when it is read (its arrays by their headers)."""
    m, task = cfg.model, cfg.task
    n = task.n_train or 32
    grid = n * task.stride if task.name == "toy1d" else n
    features = 2 * (m.m if m.m is not None else max(grid // 2, 16))
    steps = cfg.train.steps or (cfg.train.sweep_steps if cfg.sweep.param else 0)
    every = cfg.train.record_every or max(1, steps // 50)
    need = {
        "the MLP's weights (--width, --depth, and --m or, with --m unset, --n-train)": m.width
        * (features + 1 + (m.depth - 1) * (m.width + 1)),
        "the input features (--m, --n-train)": grid * features,
        "the kernels (--n-train, --stride)": grid * n,
        "the recorded predictions (--steps, --record-every, --signals)": (steps // every + 1)
        * grid
        * task.signals,
    }
    for what, count in need.items():
        check_elements(count, f"with these settings {what}", "choose smaller values")


def check_ntk_config(cfg: NTKRunConfig) -> None:
    """Cross-field checks; every failure is one-line :class:`BadInput` (exit 2)."""
    m, sw = cfg.model, cfg.sweep
    _check_sizes(cfg)
    # the kernel grows like std^(2 depth): beyond the dtype's range it is inf (exit 3 after the
    # run directory was made); 10^(digits / 2 depth) keeps it finite with room for the sums
    digits = 290 if m.dtype == "float64" else 30
    for flag, std in (("--w-std", m.w_std), ("--b-std", m.b_std)):
        top = 10 ** (digits / (2 * m.depth))
        if std > top:
            raise BadInput(
                f"{flag} {std:g} makes a depth-{m.depth} kernel overflow {m.dtype} (it grows "
                f"like std^{2 * m.depth}); choose at most {top:.3g}"
            )
    if cfg.kernel == "analytic":
        if m.activation != "relu":
            raise BadInput(
                f"--kernel analytic covers ReLU MLPs only, not activation {m.activation!r}; "
                "use --kernel empirical"
            )
        if m.parameterization != "ntk":
            raise BadInput(
                "--kernel analytic needs --parameterization ntk (the standard parameterization's "
                "NTK grows with the width and has no infinite-width limit); use --kernel empirical"
            )
    defaults = NTKModelConfig.model_fields
    if m.encoding != "toy" and m.p != defaults["p"].default:
        raise BadInput(f"--p applies to --encoding toy, not {m.encoding!r}; drop it")
    if m.encoding not in ("posenc", "gauss") and m.scale != defaults["scale"].default:
        raise BadInput(
            f"--scale applies to --encoding posenc or gauss, not {m.encoding!r}; drop it"
        )
    if sw.param is not None and not sw.values:
        raise BadInput(f"--sweep-{sw.param} needs at least one value, e.g. 0,0.5,1,1.5,2,inf")
    if sw.param is None and sw.values:
        raise BadInput("sweep.values given without sweep.param (p or scale)")
    if sw.param == "p":
        if m.encoding != "toy":
            raise BadInput(
                f"--sweep-p sweeps the toy encoding, not {m.encoding!r}; use --encoding toy"
            )
        bad = [v for v in sw.values if math.isnan(v) or v < 0]
        if bad:
            raise BadInput(f"--sweep-p values must be >= 0 (or inf), got {bad[0]}")
    if sw.param == "scale":
        if m.encoding not in ("posenc", "gauss"):
            raise BadInput(
                f"--sweep-scale sweeps posenc or gauss, not {m.encoding!r}; "
                "pass --encoding gauss or --encoding posenc"
            )
        bad = [v for v in sw.values if not math.isfinite(v) or v <= 0]
        if bad:
            raise BadInput(f"--sweep-scale values must be finite and > 0, got {bad[0]}")
