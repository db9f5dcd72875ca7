"""The ``hae`` family: the harmonic autoencoder (and its SAE baseline) as one pipeline family.

``spectral train hae`` trains the HAE with the seed's curriculum
(:mod:`spectral_cli.harmony.objective`); ``--baseline sae`` adds a second model of the same run,
a sparse autoencoder of the same architecture and the same initial weights (the run seed is
re-applied before it is built), written as ``models/sae.safetensors`` with checkpoint family
``hae-sae-baseline`` (``harmony-score`` refuses it). Both are selected on the lowest validation
``val_loss`` at the target loss weights. Final metrics per model: ``test_mse``, ``test_auroc``
(harmony H as a detector of valid vs generated invalid test signals), ``val_loss``,
``val_auroc``, ``val_mse``; the report's ``extras`` hold the detector's distributions and the
superposition figures, and ``harmony_hist.png`` shows the test harmony of both models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from spectral_cli.core.registry import (
    FAMILY_MODULES,
    ExportSignature,
    Family,
    Member,
    Task,
    TensorSpec,
    register,
)
from spectral_cli.harmony import detection
from spectral_cli.harmony.invalid import SignalData, invalid_sets, load_signal_data
from spectral_cli.harmony.models import FAMILY, SAE_FAMILY, HAERunConfig, build_hae
from spectral_cli.harmony.objective import HAEObjective, SAEObjective, score_kwargs, validation_fn


@dataclass(frozen=True)
class SignalInfo:
    """What the autoencoder needs to know about the data."""

    signal_length: int


@dataclass(frozen=True)
class HAEData:
    """The signal splits plus the fixed validation and test invalid sets."""

    signals: SignalData
    val_invalid: torch.Tensor
    test_invalid: dict[str, torch.Tensor]

    @property
    def train(self) -> Any:
        return self.signals.train

    @property
    def val(self) -> Any:
        return self.signals.val

    @property
    def test(self) -> Any:
        return self.signals.test

    @property
    def info(self) -> SignalInfo:
        return SignalInfo(self.signals.signal_length)

    def summary(self) -> dict[str, object]:
        s = self.signals
        return {
            "source": s.source,
            "n_train": len(s.train),
            "n_val": len(s.val),
            "n_test": len(s.test),
            "signal_length": s.signal_length,
            "invalid_kinds": list(self.test_invalid),
        }


def load_data(cfg: HAERunConfig) -> HAEData:
    data = load_signal_data(cfg.data)
    val_inv = torch.cat(list(invalid_sets(data.val.x, data.val.y, cfg.data.invalid_seed).values()))
    test_inv = invalid_sets(data.test.x, data.test.y, cfg.data.invalid_seed + 1)
    return HAEData(data, val_inv, test_inv)


def members(cfg: HAERunConfig) -> list[Member]:
    own = [Member("hae", cfg, cfg.seed)]
    if cfg.model.baseline != "sae":
        return own
    return [*own, Member("sae", cfg, cfg.seed, checkpoint_family=SAE_FAMILY)]


def task(
    model: Any, cfg: HAERunConfig, data: HAEData, device: torch.device, member: Member | None = None
) -> Task:
    if member is not None and member.name == "sae":
        sae = SAEObjective(cfg.model)
        return Task(
            loss=sae,
            evaluate=validation_fn(sae, data.val.x, data.val_invalid, device),
            select="val_loss",
            mode="min",
        )
    hae = HAEObjective(cfg.model, cfg.train.epochs)
    return Task(
        loss=hae,
        evaluate=validation_fn(hae, data.val.x, data.val_invalid, device),
        select="val_loss",
        mode="min",
        on_epoch_start=hae.set_epoch,
        select_from_epoch=hae.curriculum.select_from_epoch(),
    )


def _validation(
    model: Any, cfg: HAERunConfig, data: HAEData, device: torch.device
) -> dict[str, float]:
    objective = HAEObjective(cfg.model, cfg.train.epochs)
    return validation_fn(objective, data.val.x, data.val_invalid, device)(model)


def metrics(
    model: Any, cfg: HAERunConfig, data: HAEData, device: torch.device, evaluate_test: bool
) -> dict[str, float | None]:
    val = _validation(model, cfg, data, device)
    out: dict[str, float | None] = {"test_mse": None, "test_auroc": None}
    if evaluate_test:
        out["test_mse"] = detection.reconstruction_mse(model, data.test.x, device)
        det, _ = detection.detector(
            model, data.test.x, data.test_invalid, device, score_kwargs(cfg.model)
        )
        out["test_auroc"] = det.auroc
    out.update(
        {"val_loss": val["val_loss"], "val_auroc": val["val_auroc"], "val_mse": val["val_mse"]}
    )
    return out


def extras(
    model: Any, cfg: HAERunConfig, data: HAEData, device: torch.device, evaluate_test: bool
) -> dict[str, Any]:
    if not evaluate_test:
        return {}
    kwargs = score_kwargs(cfg.model)
    det, _ = detection.detector(model, data.test.x, data.test_invalid, device, kwargs)
    sup = detection.superposition(
        model, data.test.x, cfg.data.n_pairs, cfg.data.invalid_seed, device, kwargs
    )
    return {"detection": det.model_dump(), "superposition": sup}


def artifacts(run: Any) -> dict[str, str]:
    """``harmony_hist.png``: test harmony of valid vs invalid inputs, per model of the run."""
    from spectral_cli.harmony.plots import harmony_histograms

    values = {}
    for trained in run.models:
        kwargs = score_kwargs(trained.member.cfg.model)
        _, values[trained.member.name] = detection.detector(
            trained.model, run.data.test.x, run.data.test_invalid, run.device, kwargs
        )
    title = f"test harmony H ({run.cfg.model.variant})"
    harmony_histograms(values, title, run.run_dir / "harmony_hist.png")
    return {"histogram": "harmony_hist.png"}


HAE = register(
    Family(
        name=FAMILY,
        description=FAMILY_MODULES[FAMILY][1],
        config=HAERunConfig,
        data=load_data,
        build=lambda cfg, info: build_hae(cfg.model, info.signal_length),
        task=task,
        metrics=metrics,
        select="val_loss",
        mode="min",
        test_metric="test_auroc",
        test_mode="max",
        members=members,
        extras=extras,
        artifacts=artifacts,
        smoke=(
            "train.epochs=4",
            "data.limit=160",
            "train.batch_size=64",
            "model.hidden=32",
            "data.n_pairs=50",
        ),
        export=ExportSignature(
            kind="autoencoder",
            input=TensorSpec("signal", "float32", ("batch", "signal_length")),
            outputs=(
                TensorSpec("reconstruction", "float32", ("batch", "signal_length")),
                TensorSpec("latent", "float32", ("batch", "model.latent")),
            ),
        ),
    )
)
