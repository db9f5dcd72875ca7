"""The ``hae`` family: the harmonic autoencoder (and its SAE baseline) as one pipeline family.

``spectral train hae`` trains the HAE with the seed's curriculum
(:mod:`spectral_cli.harmony.objective`); ``--baseline sae`` adds a second model of the same run,
a sparse autoencoder of the same architecture and the same initial weights (the run seed is
re-applied before it is built), written as ``models/sae.safetensors`` with checkpoint family
``hae-sae-baseline`` (``harmony-score`` refuses it). Both are selected on the lowest validation
``val_loss`` at the target loss weights. Final metrics per model: ``test_mse``, ``test_auroc``
(harmony H as a detector of valid vs generated invalid test signals), ``val_loss``,
``val_auroc``, ``val_mse``; the report's ``extras`` hold the detector's distributions and the
superposition figures, ``harmony_hist.png`` shows the test harmony of both models and
``curves.png`` each model's objective, the validation AUROC and MSE with the curriculum phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from spectral_cli.core.curves import Curves, Panel
from spectral_cli.core.limits import check_elements
from spectral_cli.core.registry import (
    FAMILY_MODULES,
    ExportSignature,
    Family,
    Member,
    Metric,
    ModelOutcome,
    Outcome,
    Task,
    TensorSpec,
    TrainedRun,
    register,
)
from spectral_cli.harmony import detection
from spectral_cli.harmony.invalid import SignalData, invalid_sets, load_signal_data
from spectral_cli.harmony.models import FAMILY, SAE_FAMILY, HAERunConfig, build_hae
from spectral_cli.harmony.objective import (
    Curriculum,
    HAEObjective,
    SAEObjective,
    score_kwargs,
    validation_fn,
)


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
    check_elements(  # the superposition pairs of the final step, refused before training
        cfg.data.n_pairs * data.signal_length,
        f"data.n_pairs={cfg.data.n_pairs:,} (pairs of {data.signal_length} samples)",
        "choose a smaller data.n_pairs",
    )
    val_inv = torch.cat(list(invalid_sets(data.val.x, data.val.y, cfg.data.invalid_seed).values()))
    test_inv = invalid_sets(data.test.x, data.test.y, cfg.data.invalid_seed + 1)
    return HAEData(data, val_inv, test_inv)


def members(cfg: HAERunConfig) -> list[Member]:
    own = [Member("hae", cfg, cfg.seed)]
    if cfg.model.baseline != "sae":
        return own
    return [*own, Member("sae", cfg, cfg.seed, checkpoint_family=SAE_FAMILY)]


def task(model: torch.nn.Module, member: Member, data: HAEData, device: torch.device) -> Task:
    cfg = member.cfg
    if member.name == "sae":
        sae = SAEObjective(cfg.model)
        return Task(loss=sae, evaluate=validation_fn(sae, data.val.x, data.val_invalid, device))
    hae = HAEObjective(cfg.model, cfg.train.epochs)
    return Task(
        loss=hae,
        evaluate=validation_fn(hae, data.val.x, data.val_invalid, device),
        on_epoch_start=hae.set_epoch,
        select_from_epoch=hae.curriculum.select_from_epoch(),
    )


HARMONY = "hae.test_harmony"  # run.computed: model -> test harmony values, for the figure


def finish(run: TrainedRun) -> Outcome:
    """Per model: validation metrics at the target loss weights, and from one pass of the
    test-set detector the test AUROC, the report's detection extras and the values of
    ``harmony_hist.png`` (kept for :func:`figures`)."""
    cfg: HAERunConfig = run.cfg
    data: HAEData = run.data
    objective = HAEObjective(cfg.model, cfg.train.epochs)
    validate = validation_fn(objective, data.val.x, data.val_invalid, run.device)
    kwargs = score_kwargs(cfg.model)
    models = {}
    for tm in run.models:
        model, name = tm.model, tm.member.name
        val = validate(model)
        metrics: dict[str, float | None] = {"test_mse": None, "test_auroc": None}
        extras: dict[str, Any] = {}
        if run.evaluate_test or run.plots:  # one detector pass for the metrics and figure
            det, values = detection.detector(
                model, data.test.x, data.test_invalid, run.device, kwargs
            )
            run.computed.setdefault(HARMONY, {})[name] = values
        if run.evaluate_test:
            metrics["test_mse"] = detection.reconstruction_mse(model, data.test.x, run.device)
            metrics["test_auroc"] = det.auroc
        if run.evaluate_test and not run.metrics_only:
            sup = detection.superposition(
                model, data.test.x, cfg.data.n_pairs, cfg.data.invalid_seed, run.device, kwargs
            )
            extras = {"detection": det.model_dump(), "superposition": sup}
        metrics.update({k: val[k] for k in ("val_loss", "val_auroc", "val_mse")})
        models[name] = ModelOutcome(metrics, extras)
    return Outcome(models)


def figures(run: TrainedRun) -> dict[str, str]:
    """``harmony_hist.png``: test harmony of valid signals and of each invalid kind, one panel
    per model of the run (the detector is evaluated on the kept weights)."""
    from spectral_cli.harmony.plots import harmony_histograms

    cfg: HAERunConfig = run.cfg
    data: HAEData = run.data
    kwargs = score_kwargs(cfg.model)
    known = run.computed.get(HARMONY, {})  # finish's pass, when it made one
    values = {
        tm.member.name: known.get(tm.member.name)
        or detection.detector(tm.model, data.test.x, data.test_invalid, run.device, kwargs)[1]
        for tm in run.models
    }
    title = f"{run.run_dir.path.resolve().name}: test harmony H ({cfg.model.variant})"
    path = harmony_histograms(values, title, run.run_dir / "harmony_hist.png")
    return {"histogram": path.name}


PHASES = (
    "HAE phase 1 (warm-up weight)",
    "phase 2 (ramp)",
    "phase 3 (target weight, adversarial)",
)


def phase_marks(cfg: HAERunConfig) -> list[tuple[float, str]]:
    """Where the HAE's curriculum phases 1-3 start (between two epochs), empty ones left out."""
    bounds = Curriculum(cfg.model, cfg.train.epochs).bounds
    starts = [0, *bounds[:-1]]
    return [
        (starts[k] + 0.5, PHASES[k - 1])
        for k in range(1, 4)
        if bounds[k] > starts[k] and 0 < starts[k] < cfg.train.epochs
    ]


CURVES = Curves(
    (
        Panel(
            "objective",
            (("loss", "train (current weights)"), ("val_loss", "validation (target weights)")),
            "loss",
            scale="linear",
            per_model=True,
        ),
        Panel("validation AUROC of H", (("val_auroc", "validation"),), "AUROC", scale="linear"),
        Panel("validation reconstruction", (("val_mse", "validation"),), "MSE"),
    ),
    marks=phase_marks,
)


HAE = register(
    Family(
        name=FAMILY,
        description=FAMILY_MODULES[FAMILY][1],
        config=HAERunConfig,
        data=load_data,
        build=lambda cfg, info: build_hae(cfg.model, info.signal_length),
        task=task,
        finish=finish,
        figures=figures,
        curves=CURVES,
        select=Metric("val_loss", "min"),
        test=Metric("test_auroc", "max"),
        members=members,
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
