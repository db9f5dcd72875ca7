"""The family registry: every trainable family is declared once, as one :class:`Family`.

``train``, ``tune``, ``export``, the CLI and the tests iterate over :func:`family_names` and
drive every family through :func:`spectral_cli.core.pipeline.run_experiment`; nothing outside a
system package names a family. The name -> module table below is static so that listing the
families (``spectral train --help``) imports no torch: a family's module is imported on first
use and registers itself with :func:`register`. Core only knows the module *names*; it never
imports system code at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from spectral_cli.core.errors import BadInput
from spectral_cli.core.signature import EXPORT_FORMATS, ExportSignature, RawInput, TensorSpec

if TYPE_CHECKING:  # listing the families (``--help``) imports no torch
    import torch
    from torch import Tensor, nn

    from spectral_cli.core.curves import Curves
    from spectral_cli.core.runs import RunDir
    from spectral_cli.core.schema import RunConfig, TrainConfig

# family name -> (module that registers it, one-line description shown in --help)
FAMILY_MODULES: dict[str, tuple[str, str]] = {
    "standard": (
        "spectral_cli.embeddings.family",
        "Transformer on MNIST-1D tokens with a standard V x D embedding table",
    ),
    "factorized": (
        "spectral_cli.embeddings.family",
        "Transformer on MNIST-1D tokens with a V x K -> D factorized embedding",
    ),
    "hpe": (
        "spectral_cli.embeddings.family",
        "Transformer on MNIST-1D tokens with a harmonic (sum-of-sinusoids) embedding",
    ),
    "hae": (
        "spectral_cli.harmony.family",
        "Harmonic autoencoder on MNIST-1D signals; --baseline sae trains a sparse AE too",
    ),
    "hmlp": (
        "spectral_cli.hmlp.family",
        "Harmonic MLP: per-neuron sin(2 pi z / f) + 0.1 z, frequency init and optimizer",
    ),
    "mlp": (
        "spectral_cli.hmlp.family",
        "Plain ReLU MLP baseline for hmlp (same widths); --compare trains both",
    ),
    "spectra-lstm": (
        "spectral_cli.spectra_lstm.family",
        "LSTM that computes a windowed power spectrum: does training keep the construction?",
    ),
}


class Metric(NamedTuple):
    """A metric by name and direction: ``max`` (larger is better) or ``min``."""

    name: str
    mode: Literal["max", "min"] = "max"

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """Optuna's word for the mode."""
        return "maximize" if self.mode == "max" else "minimize"


class LossFn(Protocol):
    """``loss(model, x, y) -> (loss, hits)``: ``hits`` is the number of correct predictions of
    a classifier, or ``None`` for a regression (then no training accuracy is recorded)."""

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor, /) -> tuple[Tensor, Any]: ...


@dataclass
class Task:
    """How one model of a family is trained by :class:`~spectral_cli.core.trainer.Trainer`.

    ``evaluate(model) -> {metric: value}`` runs once per epoch on the validation split (eval
    mode); its keys must include the family's selection metric and ``val_loss``. ``None`` means
    the classifier default (``val_loss``, ``val_acc``). ``select_from_epoch``: earlier epochs
    are never selected (a curriculum whose loss changes). ``keep="last"`` keeps the final
    weights instead of the selected ones (an experiment about where training ends, e.g. the
    LSTM drift experiment). ``optimizer``: the family's own (default: Adam with the config's
    lr and weight decay). Which metric selects, and in which direction, is the family's
    :attr:`Family.select` (declared once, for every model of the family). ``lr_at(history)``:
    the learning rate of the next epoch as a function of the epochs recorded so far (a schedule
    such as ReduceLROnPlateau); the loop sets it at every epoch start and records it as ``lr``.
    Being a function of the saved history, it resumes exactly. ``None``: the config's ``lr``.
    """

    loss: LossFn
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None
    select_from_epoch: int = 1
    on_epoch_start: Callable[[int], None] | None = None
    optimizer: torch.optim.Optimizer | None = None
    keep: Literal["best", "last"] = "best"
    lr_at: Callable[[list[dict[str, float]]], float] | None = None


@dataclass(frozen=True)
class Member:
    """One model of a run: a run trains one member, or several (``--compare``, ``--baseline``).

    The first member is the primary one (``model.safetensors``, ``state.safetensors``); the
    others are written as ``models/<name>.safetensors`` with their state in
    ``states/<name>.safetensors``. ``checkpoint_family`` is the ``spectral.family`` of the
    member's checkpoint (default: ``cfg.family``).
    """

    name: str
    cfg: Any
    seed: int
    checkpoint_family: str | None = None


class FamilyData(Protocol):
    """What a family's ``data(cfg)`` returns: splits with ``x``/``y``, the ``info`` its
    ``build`` needs (a dataclass: it is stored in every checkpoint) and a report ``summary``."""

    @property
    def train(self) -> Any: ...
    @property
    def val(self) -> Any: ...
    @property
    def test(self) -> Any: ...
    @property
    def info(self) -> Any: ...
    def summary(self) -> dict[str, Any]: ...


@dataclass
class TrainedModel:
    """One trained model of a run (its kept weights are loaded)."""

    member: Member
    model: nn.Module
    file: str  # its weights, relative to the run directory
    keep: Literal["best", "last"] = "best"  # the task's: best epoch's weights, or the last


@dataclass
class TrainedRun:
    """What a family's :attr:`Family.finish` step sees: every trained model of the run.

    ``evaluate_test``: false for ``spectral tune`` trials, which never touch the test split
    (test metrics are then ``None`` and extras hold nothing computed from it). ``plots``: write
    figures into ``run_dir`` (false for trials, final tune runs and ``--no-plots``).
    ``metrics_only``: compute the metrics and nothing else (no extras, no figures).
    """

    cfg: Any
    run_dir: RunDir
    device: torch.device
    data: Any
    models: list[TrainedModel]
    evaluate_test: bool = True
    plots: bool = True
    metrics_only: bool = False  # no extras either (export compares precisions by metrics)
    computed: dict[str, Any] = field(default_factory=dict)  # by finish, reused by figures


@dataclass
class ModelOutcome:
    """Final results of one model: named ``metrics`` (the family's own names, ``None`` where
    not computed) and ``extras`` (anything else the report should hold)."""

    metrics: dict[str, float | None]
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """The post-training step's result: per model (by member name) its metrics and extras, and
    the files the family wrote (label -> path relative to the run directory)."""

    models: dict[str, ModelOutcome]
    files: dict[str, str] = field(default_factory=dict)


class DataFn(Protocol):
    def __call__(self, cfg: Any, /) -> FamilyData: ...


class BuildFn(Protocol):
    def __call__(self, cfg: Any, info: Any, /) -> nn.Module: ...


class TaskFn(Protocol):
    def __call__(
        self, model: nn.Module, member: Member, data: Any, device: torch.device, /
    ) -> Task: ...


class FinishFn(Protocol):
    def __call__(self, run: TrainedRun, /) -> Outcome: ...


class FiguresFn(Protocol):
    """``figures(run) -> {label: file}``: the family's own figures of a trained run (kept
    weights loaded), written into ``run.run_dir``; also called by ``spectral plot``."""

    def __call__(self, run: TrainedRun, /) -> dict[str, str]: ...


def one_member(cfg: Any) -> list[Member]:
    """The default run: one model, named after the family, with the run seed."""
    return [Member(cfg.family, cfg, cfg.seed)]


def train_section(cfg: Any) -> Any:
    """The default loop settings: the config's ``train`` section."""
    return cfg.train


@dataclass(frozen=True)
class Family:
    """A trainable family, declared once; every hook takes what it is about first.

    * ``config``: the complete run schema (a :class:`~spectral_cli.core.schema.RunConfig`).
    * ``data(cfg)``: the splits (:class:`FamilyData`); ``build(cfg, info)``: the model.
    * ``task(model, member, data, device)``: how one model trains (:class:`Task`).
    * ``finish(run)``: the one post-training step, after every model of the run trained: final
      metrics and extras per model (:class:`Outcome`).
    * ``figures(run)``: the family's own figures from the kept weights (after ``finish``, when
      plotting; ``spectral plot`` calls it on a saved run); ``curves``: the panels of
      ``curves.png`` (:class:`~spectral_cli.core.curves.Curves`; ``None``: loss and accuracy).
    * ``select``: the validation metric and direction that pick the kept weights (ties go to
      the lower ``val_loss``); ``test``: the final metric ``spectral tune`` compares across
      seeds and families (families are compared only when they share it). Both are declared
      here once (``tune`` needs them before anything trains).
    * ``members(cfg)``: the models of a run (``--compare``, ``--baseline``); default one.
    * ``loop(cfg)``: the loop's settings (default ``cfg.train``); ``unit``: ``"epochs"`` or
      ``"steps"`` (step-based families count ``train.steps``).
    * ``tunable``: ``None`` if ``spectral tune`` may tune it, else the reason it may not.
    * ``smoke``: ``--set`` items that make a run take seconds on a CPU (tests and smoke runs).
    * ``export``: the :class:`ExportSignature` (``spectral export``/``predict``); ``None``:
      the family cannot be exported.
    """

    name: str
    description: str
    config: type[RunConfig]
    data: DataFn
    build: BuildFn
    task: TaskFn
    finish: FinishFn
    select: Metric = Metric("val_acc", "max")
    test: Metric = Metric("test_acc", "max")
    members: Callable[[Any], list[Member]] = one_member
    loop: Callable[[Any], TrainConfig] = train_section
    unit: Literal["epochs", "steps"] = "epochs"
    embedding_prefix: str = "embedding."
    tunable: str | None = None
    smoke: tuple[str, ...] = ("train.epochs=2", "data.limit=200", "train.batch_size=64")
    export: ExportSignature | None = None
    figures: FiguresFn | None = None
    curves: Curves | None = None

    @property
    def preset(self) -> str:
        """File name of the family's YAML preset under ``configs/``."""
        return f"{self.name}.yaml"


__all__ = [  # the export signature's types are declared with the family
    "EXPORT_FORMATS",
    "ExportSignature",
    "Family",
    "Member",
    "Metric",
    "ModelOutcome",
    "Outcome",
    "RawInput",
    "Task",
    "TensorSpec",
    "TrainedModel",
    "TrainedRun",
    "family_names",
    "get_family",
    "register",
]

_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add ``family``; a name outside :data:`FAMILY_MODULES` or registered twice is a bug."""
    if family.name in _REGISTRY:
        raise ValueError(f"model family {family.name!r} registered twice")
    if family.name not in FAMILY_MODULES:
        raise ValueError(f"model family {family.name!r} is missing from FAMILY_MODULES")
    _REGISTRY[family.name] = family
    return family


def family_names() -> list[str]:
    """All family names, without importing any model code."""
    return sorted(FAMILY_MODULES)


def family_descriptions() -> dict[str, str]:
    """name -> one-line description, without importing any model code."""
    return {name: FAMILY_MODULES[name][1] for name in family_names()}


def get_family(name: str) -> Family:
    """The family ``name``; an unknown name is bad input listing the known ones."""
    entry = FAMILY_MODULES.get(name)
    if entry is None:
        raise BadInput(f"unknown model family {name!r}; choose one of: {', '.join(family_names())}")
    if name not in _REGISTRY:
        importlib.import_module(entry[0])
    return _REGISTRY[name]
