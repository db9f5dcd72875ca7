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

Per model, besides the pipeline's files: ``<init>/spectra_lstm.safetensors`` (``spectral
verify-lstm --checkpoint`` runs it) and ``<init>/weight_hh.png`` (init vs trained); the report's
``models.<init>.extras`` hold the drift per ``weight_hh`` block, the distance to the
construction and ``verify-lstm`` on the trained weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from spectral_cli.core.checkpoint import model_metadata, save_tensors
from spectral_cli.core.registry import (
    FAMILY_MODULES,
    ExportSignature,
    Family,
    Member,
    Task,
    TensorSpec,
    register,
)
from spectral_cli.core.trainer import evaluate
from spectral_cli.spectra_lstm import reference as core
from spectral_cli.spectra_lstm.config import INITS, SpectraLSTMRunConfig
from spectral_cli.spectra_lstm.models import (
    SpectraCell,
    block_drift,
    build_model,
    theta_hh_of,
    weight_hh_of,
)
from spectral_cli.spectra_lstm.signals import sine_batch, sine_bound
from spectral_cli.spectra_lstm.verify import (
    CHECKPOINT,
    STANDARD_FAMILY,
    relative_errors,
    save_cell,
    verify_standard,
)

NAME = "spectra-lstm"


@dataclass
class Split:
    x: Tensor  # [n, windows * T]
    y: Tensor  # [n, windows, T] power spectra (float64 FFT)

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class SpectraInfo:
    window: int
    dtype: str
    input_bound: float
    loss_normalizer: float  # mean(P^2) over the training targets


@dataclass
class SpectraData:
    train: Split
    val: Split
    test: Split
    verify_x: Tensor
    info: SpectraInfo

    def summary(self) -> dict[str, object]:
        return {
            "source": "sums of random sines",
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
            "window": self.info.window,
            "input_bound": self.info.input_bound,
            "loss_normalizer": self.info.loss_normalizer,
        }


def make_split(cfg: SpectraLSTMRunConfig, count: int, seed: int, dtype: torch.dtype) -> Split:
    T, d = cfg.model.window, cfg.data
    x = sine_batch(count, d.windows * T, T, d.n_sines, seed)
    return Split(x.to(dtype), core.reference_spectra(x, T).to(dtype))


def load_data(cfg: SpectraLSTMRunConfig) -> SpectraData:
    """Fixed train/val/test signals seeded from the run seed (independent of the models)."""
    dt = core.resolve_dtype(cfg.model.dtype)
    T = cfg.model.window
    train = make_split(cfg, cfg.train.eval_every * cfg.train.batch_size, cfg.seed, dt)
    val = make_split(cfg, cfg.data.n_val, 10_000 + cfg.seed, dt)
    test = make_split(cfg, cfg.data.n_test, 20_000 + cfg.seed, dt)
    norm = float(train.y.double().square().mean())
    verify_x = sine_batch(1, cfg.data.verify_windows * T, T, cfg.data.n_sines, 30_000 + cfg.seed)[0]
    info = SpectraInfo(T, cfg.model.dtype, sine_bound(cfg.data.n_sines, T), norm)
    return SpectraData(train, val, test, verify_x, info)


def model_seed(cfg: SpectraLSTMRunConfig) -> int:
    """Seeded by init name: an ``--init`` run equals that part of a ``--compare`` run."""
    return cfg.seed * 7919 + INITS.index(cfg.model.init)


def members(cfg: SpectraLSTMRunConfig) -> list[Member]:
    out = []
    for init in cfg.inits():
        sub = cfg.model_copy(update={"model": cfg.model.model_copy(update={"init": init})})
        out.append(Member(init, sub, model_seed(sub)))
    return out


def build(cfg: SpectraLSTMRunConfig, info: SpectraInfo) -> nn.Module:
    dt = core.resolve_dtype(cfg.model.dtype)
    return build_model(
        cfg.model.init, cfg.model.window, dt, info.input_bound, cfg.model.noise, model_seed(cfg)
    )[0]


def nmse_loss(norm: float) -> Any:
    def loss_fn(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, None]:
        return (model(x) - y).square().mean() / norm, None

    return loss_fn


def _eval_batch(cfg: SpectraLSTMRunConfig) -> int:
    return max(cfg.train.batch_size, 256)


def task(
    model: nn.Module,
    cfg: SpectraLSTMRunConfig,
    data: SpectraData,
    device: torch.device,
    member: Member | None = None,
) -> Task:
    loss = nmse_loss(data.info.loss_normalizer)
    bs = _eval_batch(cfg)

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
    return Task(
        loss=loss,
        evaluate=evaluate_fn,
        select="val_loss",
        mode="min",
        optimizer=optimizer,
        keep="last",
    )


@torch.no_grad()
def metrics(
    model: nn.Module,
    cfg: SpectraLSTMRunConfig,
    data: SpectraData,
    device: torch.device,
    evaluate_test: bool,
) -> dict[str, float | None]:
    """``test_nmse`` and the relative errors of the test spectra (final weights)."""
    loss, bs, T = nmse_loss(data.info.loss_normalizer), _eval_batch(cfg), cfg.model.window
    out: dict[str, float | None] = {
        "test_nmse": None,
        "test_max_rel_error": None,
        "test_median_rel_error": None,
    }
    if evaluate_test:
        model.eval()
        pred = torch.cat(
            [model(data.test.x[i : i + bs].to(device)).cpu() for i in range(0, len(data.test), bs)]
        )
        rel = relative_errors(pred.reshape(-1, T), data.test.y.double().reshape(-1, T))
        out.update(
            test_nmse=evaluate(model, data.test, bs, device, loss)[0],
            test_max_rel_error=float(rel.max()),
            test_median_rel_error=float(rel.median()),
        )
    out["val_nmse"] = evaluate(model, data.val, bs, device, loss)[0]
    out["train_nmse"] = evaluate(model, data.train, bs, device, loss)[0]
    return out


def _verify(model: nn.Module, data: SpectraData, device: torch.device) -> Any:
    if isinstance(model, SpectraCell):
        return core.verify(model.weights(), data.verify_x, device=device)
    return verify_standard(model, data.verify_x.to(device), None)


def extras(
    model: nn.Module,
    cfg: SpectraLSTMRunConfig,
    data: SpectraData,
    device: torch.device,
    evaluate_test: bool,
) -> dict[str, Any]:
    """Drift of ``weight_hh`` per block from the init and from the construction, and
    ``verify-lstm`` on the trained weights."""
    init_model = build(cfg, data.info)  # the same seed rebuilds the same initial weights
    init_whh, init_theta = weight_hh_of(init_model).cpu(), theta_hh_of(init_model).cpu()
    after_whh, after_theta = weight_hh_of(model).cpu(), theta_hh_of(model).cpu()
    ref = core.construct(
        cfg.model.window, core.resolve_dtype(cfg.model.dtype), input_bound=data.info.input_bound
    )
    blocks, is_cell = ref.blocks, isinstance(model, SpectraCell)
    construction_whh = ref.weight_hh.double()
    ref_theta = construction_whh / (model.scale_weight_hh.cpu().double() if is_cell else 1.0)
    bs = _eval_batch(cfg)
    step0 = evaluate(
        init_model.to(device), data.val, bs, device, nmse_loss(data.info.loss_normalizer)
    )[0]
    ver = _verify(model, data, device)
    return {
        "cell": "contract (tanh input gate)" if is_cell else "nn.LSTM (sigmoid input gate)",
        "parameterization": "natural units" if cfg.model.init in ("exact", "perturbed") else "raw",
        "step0_val_nmse": step0,
        "steps": cfg.train.epochs * cfg.train.eval_every,
        "hidden_size": ref.hidden_size,
        "drift_from_init": block_drift(init_whh, after_whh, blocks),
        "drift_natural": block_drift(init_theta, after_theta, blocks),
        "distance_to_construction": block_drift(construction_whh, after_whh, blocks),
        "construction_distance_natural_init": block_drift(ref_theta, init_theta, blocks),
        "construction_distance_natural": block_drift(ref_theta, after_theta, blocks),
        "verify": {
            "passed": bool(ver.passed),
            "max_error": _finite(ver.max_error),
            "tol": ver.tol,
            "worst_window": ver.worst_window,
            "worst_bin": ver.worst_bin,
            "windows": ver.windows,
            "note": ver.note,
        },
    }


def artifacts(run: Any) -> dict[str, str]:
    """Per model: the ``verify-lstm`` checkpoint and the init-vs-trained ``weight_hh`` map."""
    from spectral_cli.spectra_lstm import plots

    files: dict[str, str] = {}
    cfg_json = run.cfg.model_dump(mode="json")
    for trained in run.models:
        cfg, model, init = trained.member.cfg, trained.model, trained.member.name
        sub = run.run_dir / init
        sub.mkdir(exist_ok=True)
        config = model_metadata(NAME, cfg_json)["spectral.config"]
        if isinstance(model, SpectraCell):
            save_cell(sub / CHECKPOINT, model.weights(), run_config=config, init=init)
        else:
            ref_h = core.construct(cfg.model.window, torch.float64).hidden_size
            std = {
                "window": cfg.model.window,
                "hidden_size": ref_h,
                "dtype": cfg.model.dtype,
                "readout_delay": 0,
            }
            save_tensors(
                sub / CHECKPOINT,
                model.state_dict(),
                model_metadata(STANDARD_FAMILY, std, run_config=config, init=init),
            )
        init_model = build(cfg, run.data.info)
        natural = init in ("exact", "perturbed")  # raw weights span 1e-17..1e20: plot theta
        of = theta_hh_of if natural else weight_hh_of
        blocks = core.construct(
            cfg.model.window,
            core.resolve_dtype(cfg.model.dtype),
            input_bound=run.data.info.input_bound,
        ).blocks
        plots.weight_hh_before_after(
            of(init_model).cpu().numpy(),
            of(model).cpu().numpy(),
            blocks,
            f"{init}: weight_hh {'in natural units (theta = W / scale)' if natural else '(raw)'}"
            f", T={cfg.model.window}, {cfg.model.dtype}, "
            f"{cfg.train.epochs * cfg.train.eval_every} steps",
            sub / "weight_hh.png",
        )
        files[f"checkpoint:{init}"] = f"{init}/{CHECKPOINT}"
        files[f"heatmap:{init}"] = f"{init}/weight_hh.png"
    return files


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 1e308


SPECTRA_LSTM = register(
    Family(
        name=NAME,
        description=FAMILY_MODULES[NAME][1],
        config=SpectraLSTMRunConfig,
        data=load_data,
        build=build,
        task=task,
        metrics=metrics,
        select="val_loss",
        mode="min",
        test_metric="test_nmse",
        test_mode="min",
        members=members,
        extras=extras,
        artifacts=artifacts,
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
