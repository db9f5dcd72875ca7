"""The ``spectra-lstm`` family: does gradient descent keep the hand-built spectrum algorithm?

The wavebase experiment as one pipeline family. Every model of a run (``model.init``, or all
four initialisations with ``--compare``: exact, perturbed, random, standard ``nn.LSTM``) trains on
the same sine-sum signals to regress the windowed power spectrum (MSE normalized by the mean
square target, ``test_nmse``). The loop counts ``train.steps`` optimizer steps, evaluated every
``train.eval_every`` (one "epoch" of the loop). Unlike the classifiers, the *final* weights are
kept (``keep="last"``): the question is where training ends, not which period was best.
Training runs in ``model.dtype`` (float64 by default); the exact/perturbed cells use the
construction built for that dtype with ``input_bound`` = the signals' amplitude bound, trained in
natural units (:mod:`spectral_cli.spectra_lstm.models`).
Data: :mod:`~spectral_cli.spectra_lstm.data`; models: :mod:`~spectral_cli.spectra_lstm.models`;
the final step (metrics, drift, verify checkpoints, figures):
:mod:`~spectral_cli.spectra_lstm.finish`.
"""

from __future__ import annotations

import torch
from torch import nn

from spectral_cli.core.curves import Curves, Panel
from spectral_cli.core.evaluation import evaluate
from spectral_cli.core.registry import (
    FAMILY_MODULES,
    ExportSignature,
    Family,
    Member,
    Metric,
    Task,
    TensorSpec,
    register,
)
from spectral_cli.spectra_lstm.config import SpectraLSTMRunConfig
from spectral_cli.spectra_lstm.data import SpectraData, load_data
from spectral_cli.spectra_lstm.finish import NAME, eval_batch, figures, finish, nmse_loss
from spectral_cli.spectra_lstm.models import build, model_seed


def members(cfg: SpectraLSTMRunConfig) -> list[Member]:
    out = []
    for init in cfg.inits():
        sub = cfg.model_copy(update={"model": cfg.model.model_copy(update={"init": init})})
        out.append(Member(init, sub, model_seed(sub)))
    return out


def task(model: nn.Module, member: Member, data: SpectraData, device: torch.device) -> Task:
    cfg: SpectraLSTMRunConfig = member.cfg
    loss = nmse_loss(data.info.loss_normalizer)
    bs = eval_batch(cfg)

    def evaluate_fn(m: nn.Module) -> dict[str, float]:
        return {"val_loss": evaluate(m, data.val, bs, device, loss)[0]}

    optimizer = None
    if cfg.train.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=cfg.train.lr,
            momentum=cfg.train.momentum,
            weight_decay=cfg.train.weight_decay,
        )
    return Task(loss=loss, evaluate=evaluate_fn, optimizer=optimizer, keep="last")


# nMSE spans decades (the exact construction starts near 1e-32): log axes, train and validation
# apart (four models each), the step-0 validation nMSE from the report's extras
CURVES = Curves(
    (
        Panel("training loss", (("loss", "train"),), "nMSE", scale="log"),
        Panel("validation nMSE (selection)", (("val_loss", "validation"),), "nMSE", scale="log"),
    ),
    start={"val_loss": "step0_val_nmse"},
)

SPECTRA_LSTM = register(
    Family(
        name=NAME,
        description=FAMILY_MODULES[NAME][1],
        config=SpectraLSTMRunConfig,
        data=load_data,
        build=build,
        task=task,
        finish=finish,
        figures=figures,
        curves=CURVES,
        select=Metric("val_loss", "min"),
        test=Metric("test_nmse", "min"),
        members=members,
        loop=lambda cfg: cfg.train.loop_config(),
        unit="steps",
        smoke=(
            "train.steps=4",
            "train.eval_every=2",
            "train.batch_size=8",
            "data.n_val=8",
            "data.n_test=8",
            "data.verify_windows=4",
            "data.windows=2",
            "model.window=4",
        ),
        export=ExportSignature(  # the time axis is the training length (the cell is unrolled)
            kind="regression",
            input=TensorSpec(
                "signal", "model", ("batch", "data.windows*model.window"), bound="input_bound"
            ),
            outputs=(
                TensorSpec("spectrogram", "model", ("batch", "data.windows", "model.window")),
            ),
            normalizer="loss_normalizer",
        ),
    )
)
