"""Registers ``hmlp`` and ``mlp`` (models and schemas: :mod:`spectral_cli.hmlp.models`).

``--compare`` trains the sibling family in the same run; ``frequency_tables`` and
``activations.png`` describe the harmonic layers after training.
"""

from __future__ import annotations

from typing import Any

import torch

from spectral_cli.core.errors import BadInput
from spectral_cli.core.evaluation import classification_loss
from spectral_cli.core.registry import (
    ExportSignature,
    Family,
    Member,
    RawInput,
    Task,
    TensorSpec,
    TrainedRun,
    register,
)
from spectral_cli.core.schema import RunConfig
from spectral_cli.core.tasks import classifier_finish
from spectral_cli.hmlp.config import VectorTrainConfig
from spectral_cli.hmlp.data import load_vector_data, standardize
from spectral_cli.hmlp.layer import (
    FrequencyAwareOptimizer,
    gradient_scales,
    init_scales,
)
from spectral_cli.hmlp.models import (
    HarmonicMLP,
    HarmonicMLPConfig,
    HMLPConfig,
    HMLPRunConfig,
    MLPConfig,
    MLPRunConfig,
)
from spectral_cli.hmlp.schedule import plateau_schedule


def make_optimizer(model: HarmonicMLP, cfg: RunConfig) -> torch.optim.Optimizer:
    """Adam(lr, weight_decay), wrapped in :class:`FrequencyAwareOptimizer` when switched on."""
    adam = torch.optim.Adam(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    m = cfg.model
    if getattr(m, "freq_optimizer", False):
        return FrequencyAwareOptimizer(adam, model, m.freq_scale_factor)  # type: ignore[attr-defined]
    return adam


def frequency_tables(model: torch.nn.Module, cfg: RunConfig) -> dict[str, Any]:
    """Per hidden layer: each distinct frequency, its neurons, init factor and gradient factor."""
    assert isinstance(model, HarmonicMLP)
    m = cfg.model
    assert isinstance(m, HarmonicMLPConfig)
    tables = []
    for index, layer in enumerate(model.harmonic_layers):
        freqs = layer.frequencies.detach().cpu()
        init = init_scales(freqs) if layer.init == "harmonic" else torch.ones_like(freqs)
        grad = (
            gradient_scales(freqs, m.freq_scale_factor)
            if m.freq_optimizer
            else torch.ones_like(freqs)
        )
        rows = []
        for value in torch.unique(freqs).tolist():
            idx = torch.nonzero(freqs == value).flatten()
            first, last = int(idx[0]), int(idx[-1])
            rows.append(
                {
                    "frequency": value,
                    "neurons": f"{first}" if first == last else f"{first}-{last}",
                    "count": int(idx.numel()),
                    "init_scale": float(init[first]),
                    "grad_scale": float(grad[first]),
                }
            )
        tables.append(
            {
                "layer": index,
                "in_features": layer.linear.in_features,
                "out_features": layer.linear.out_features,
                "base_freq": layer.base_freq,
                "max_freq": layer.max_freq,
                "activation": layer.activation,
                "init": layer.init,
                "table": rows,
            }
        )
    return {"frequency_tables": tables}


def activation_figures(run: TrainedRun) -> dict[str, str]:
    """``activations.png``: the activations of the neurons with distinct frequencies, per
    harmonic layer of the run's first model that has harmonic layers (an ``mlp`` run without
    ``--compare`` has none: its ReLU neurons all share ``max(0, z)``, nothing to draw)."""
    from spectral_cli.hmlp.plots import activation_curves, harmonic_layers

    for tm in run.models:
        assert isinstance(tm.model, HarmonicMLP)
        layers = harmonic_layers(tm.model.harmonic_layers)
        if layers:
            title = f"{run.run_dir.path.resolve().name}: {tm.member.name} activation functions"
            path = activation_curves(layers, title, run.run_dir / "activations.png")
            return {"activations": path.name}
    return {}


SIBLING = {"hmlp": "mlp", "mlp": "hmlp"}
SWITCHES = ("activation", "init", "freq_optimizer")


def sibling_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` for the sibling family: same everything but the harmonic switches and compare."""
    family = SIBLING[cfg.family]
    defaults = (MLPConfig if family == "mlp" else HMLPConfig)()
    data = cfg.model_dump(mode="json")
    data["family"] = family
    data["model"].update({k: getattr(defaults, k) for k in SWITCHES})
    data["train"]["compare"] = False
    return (MLP if family == "mlp" else HMLP).config.model_validate(data)


def members(cfg: RunConfig) -> list[Member]:
    """The run's own family; with ``train.compare`` also the sibling (``mlp`` for ``hmlp`` and
    vice versa) with the same seed, data, widths and ``train`` settings; only the three
    harmonic switches take the sibling's defaults."""
    own = [Member(cfg.family, cfg, cfg.seed)]
    if not cfg.train.compare:  # type: ignore[attr-defined]
        return own
    other = sibling_config(cfg)
    return [*own, Member(other.family, other, cfg.seed)]


def task(model: torch.nn.Module, member: Member, data: Any, device: torch.device) -> Task:
    assert isinstance(model, HarmonicMLP)
    train = member.cfg.train
    assert isinstance(train, VectorTrainConfig)
    lr_at = None
    if train.scheduler == "plateau":
        lr_at = plateau_schedule(
            train.lr, train.plateau_metric, train.plateau_patience, train.plateau_factor
        )
    return Task(loss=classification_loss, optimizer=make_optimizer(model, member.cfg), lr_at=lr_at)


def _standardize_raw(cfg: RunConfig, info: dict[str, Any], x: Any) -> Any:
    """``predict``'s raw features -> model input, as training prepared its data."""
    if "mean" not in info or "std" not in info:
        raise BadInput(
            "this checkpoint does not record its standardization (trained before "
            "it was stored); pass standardized features with --model-input"
        )
    return standardize(x, float(info["mean"]), float(info["std"]))


def _family(name: str, config: type[RunConfig]) -> Family:
    from spectral_cli.core.registry import FAMILY_MODULES

    return register(
        Family(
            name=name,
            description=FAMILY_MODULES[name][1],
            config=config,
            data=lambda cfg: load_vector_data(cfg.data),
            build=lambda cfg, info: HarmonicMLP(cfg.model, info),
            task=task,
            finish=classifier_finish(extras=frequency_tables),
            figures=activation_figures,
            members=members,
            smoke=(
                "train.epochs=2",
                "data.limit=200",
                "train.batch_size=64",
                "model.hidden=[32,16]",
            ),
            export=ExportSignature(
                kind="classifier",
                input=TensorSpec("x", "float32", ("batch", "n_features")),
                outputs=(TensorSpec("logits", "float32", ("batch", "num_classes")),),
                raw=RawInput(
                    TensorSpec("features", "float32", ("batch", "n_features")),
                    _standardize_raw,
                    "raw features, standardized with the training split's mean and std "
                    "(the checkpoint's data info)",
                ),
            ),
        )
    )


HMLP = _family("hmlp", HMLPRunConfig)
MLP = _family("mlp", MLPRunConfig)
