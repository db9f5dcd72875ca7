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
from typing import Any, Literal

from spectral_cli.core.errors import BadInput

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


@dataclass
class Task:
    """How one model of a family is trained by :class:`~spectral_cli.core.trainer.Trainer`.

    ``loss(model, x, y) -> (loss, hits)``: ``hits`` is the number of correct predictions of a
    classifier, or ``None`` for a regression (then no training accuracy is recorded).
    ``evaluate(model) -> {metric: value}`` runs once per epoch on the validation split (eval
    mode); its keys must include ``select``. ``None`` means the classifier default
    (``val_loss``, ``val_acc``). ``select`` / ``mode``: the validation metric that picks the
    kept weights and whether larger (``max``) or smaller (``min``) is better; ties go to the
    lower ``val_loss``. ``select_from_epoch``: earlier epochs are never selected (a curriculum
    whose loss changes). ``keep="last"`` keeps the final weights instead of the selected ones
    (an experiment about where training ends, e.g. the LSTM drift experiment).
    """

    loss: Callable[..., Any]
    evaluate: Callable[[Any], dict[str, float]] | None = None
    select: str = "val_acc"
    mode: Literal["max", "min"] = "max"
    select_from_epoch: int = 1
    on_epoch_start: Callable[[int], None] | None = None
    optimizer: Any = None
    keep: Literal["best", "last"] = "best"


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


EXPORT_FORMATS = ("onnx", "dense", "safetensors")


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output of a family's model: its ONNX name and ``predict``'s array.

    ``dtype``: ``int64``, ``float32`` or ``model`` (the dtype of the model's weights).
    ``shape``: per axis ``"batch"`` (dynamic), a number, or names joined by ``*``
    (``"seq_len"``, ``"data.windows*model.window"``) looked up in the checkpoint's data info,
    else as dotted keys of its config. ``high``: integer values lie in ``[0, high)``;
    ``bound``: random test inputs are uniform in ``[-bound, bound]`` (default: standard
    normal). Both are names like the shape's.
    """

    name: str
    dtype: str
    shape: tuple[str | int, ...]
    high: str | None = None
    bound: str | None = None


@dataclass(frozen=True)
class RawInput:
    """What ``predict`` reads by default instead of the model input (raw signals for a token
    model, raw features for an MLP): ``spec`` is the user's array, ``prepare(cfg, info, array)
    -> model input array`` turns it into the model input exactly as training did (``info``: the
    checkpoint's data info, a dict), ``doc`` says how (for messages and help)."""

    spec: TensorSpec
    prepare: Callable[[Any, dict[str, Any], Any], Any]
    doc: str


@dataclass(frozen=True)
class ExportSignature:
    """How a family's model is exported and run on user data, declared once per family.

    * ``kind``: ``classifier`` (outputs ``logits``; labels are class ids), ``autoencoder``
      (first output is the reconstruction of the input) or ``regression`` (labels have the
      first output's shape; ``normalizer`` names the data-info value the MSE is divided by).
    * ``input`` / ``outputs``: the model's ``forward`` input and outputs, in order.
    * ``raw``: ``predict``'s default input when it is not the model input.
    * ``harmonic``: submodule holding a harmonic embedding (``amplitudes``, ``frequencies``,
      ``phases``, ``embedding_dim``); ONNX synthesizes its table inside the graph from them.
    * ``dense_into``: ``dense`` turns the model into this family by replacing the submodule
      ``embedding`` with its materialized ``nn.Embedding`` table (``vocab``: data-info key of
      the table's rows).
    * ``unsupported``: format -> why this family cannot be exported in it (exit 2).
    """

    kind: Literal["classifier", "autoencoder", "regression"]
    input: TensorSpec
    outputs: tuple[TensorSpec, ...]
    raw: RawInput | None = None
    harmonic: str | None = None
    dense_into: str | None = None
    embedding: str = "embedding"
    vocab: str = "vocab_size"
    normalizer: str | None = None
    unsupported: dict[str, str] = field(default_factory=dict)

    def refusal(self, fmt: str) -> str | None:
        """Why ``fmt`` is not available for this family (``None``: it is)."""
        if fmt == "dense" and self.dense_into is None:
            return self.unsupported.get(fmt, "it has no token embedding table to materialize")
        return self.unsupported.get(fmt)


@dataclass(frozen=True)
class Family:
    """A trainable family, declared once.

    * ``config``: the complete run schema (a :class:`~spectral_cli.core.schema.RunConfig`).
    * ``data(cfg) -> data``: an object with ``train``, ``val``, ``test`` splits (``x``, ``y``),
      ``info`` (what ``build`` needs) and ``summary() -> dict`` (for the report).
    * ``build(cfg, info) -> nn.Module`` builds the model of the run config ``cfg``.
    * ``task(model, cfg, data, device, member) -> Task``; ``metrics(model, cfg, data, device,
      evaluate_test) -> {name: value}`` are the final named metrics of the kept weights (test
      metrics are ``None`` when ``evaluate_test`` is false: tuning trials never see the test
      split). ``select``/``mode`` name the selection metric statically (``tune`` needs the
      direction before it trains anything).
    * ``members(cfg) -> [Member]`` for runs of several models; default: one.
    * ``extras(model, cfg, data, device, evaluate_test) -> dict``: per-model results beyond
      metrics (nothing from the test split unless ``evaluate_test``).
    * ``artifacts(run) -> {label: file}``: plots after all members (``run`` is the pipeline's
      :class:`~spectral_cli.core.pipeline.RunResult`, with the trained models).
    * ``loop(cfg) -> TrainConfig``: the loop's knobs (default ``cfg.train``); ``unit`` is
      ``"epochs"`` or ``"steps"`` (step-based families count ``train.steps``).
    * ``test_metric``/``test_mode``: the final metric ``spectral tune`` compares across seeds
      and families (families are compared only when they share it).
    * ``tunable``: ``None`` if ``spectral tune`` may tune it, else the reason it may not.
    * ``smoke``: ``--set`` items that make a run take seconds on a CPU (tests and smoke runs).
    * ``export``: the :class:`ExportSignature` (``spectral export`` / ``predict``); ``None``:
      the family cannot be exported.
    """

    name: str
    description: str
    config: type
    data: Callable[[Any], Any]
    build: Callable[[Any, Any], Any]
    task: Callable[..., Task]
    metrics: Callable[..., dict[str, float | None]]
    select: str = "val_acc"
    mode: Literal["max", "min"] = "max"
    members: Callable[[Any], list[Member]] | None = None
    extras: Callable[..., dict[str, Any]] | None = None
    artifacts: Callable[[Any], dict[str, str]] | None = None
    loop: Callable[[Any], Any] | None = None
    unit: Literal["epochs", "steps"] = "epochs"
    test_metric: str = "test_acc"
    test_mode: Literal["max", "min"] = "max"
    embedding_prefix: str = "embedding."
    tunable: str | None = None
    smoke: tuple[str, ...] = ("train.epochs=2", "data.limit=200", "train.batch_size=64")
    export: ExportSignature | None = None

    @property
    def preset(self) -> str:
        """File name of the family's YAML preset under ``configs/``."""
        return f"{self.name}.yaml"

    def run_members(self, cfg: Any) -> list[Member]:
        if self.members is None:
            return [Member(self.name, cfg, cfg.seed)]
        return self.members(cfg)

    def loop_config(self, cfg: Any) -> Any:
        return cfg.train if self.loop is None else self.loop(cfg)


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
