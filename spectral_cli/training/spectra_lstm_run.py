"""``spectral train spectra-lstm`` (issue 7, the seed's optimization experiment).

Trains one model (``model.init``) or all four (``train.compare``) on synthetic sines
(:func:`spectral_cli.data.signals.sine_batch`) with the generic
:class:`~spectral_cli.training.loop.Trainer` (Adam, validation selection off: the *final* weights
are reported, since the question is where gradient descent takes the construction).

Loss: ``mean((P^ - P)^2) / mean(P^2)`` with ``mean(P^2)`` a constant of the training targets, so
the losses of all models are on one scale (1 = predicting zeros).  Training runs in
``model.dtype`` (float64 by default); the exact/perturbed cells use the construction built for
that dtype with ``input_bound`` = the signals' amplitude bound (smaller readout entries than the
default bound, exact all the same) and are trained in natural units (see
:mod:`spectral_cli.models.spectra_lstm`).

Run directory: ``config.yaml``; ``state.safetensors`` (the run's config, for ``--resume``); per
model ``<init>/state.safetensors`` (the Trainer's resume state), ``<init>/spectra_lstm.safetensors``
(``spectral verify-lstm --checkpoint`` runs it), ``<init>/weight_hh.png`` (init vs trained);
``loss_curves.png`` and ``report.json``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from spectral_cli.analysis import spectra_lstm as core
from spectral_cli.analysis.spectra_lstm_verify import (
    CHECKPOINT,
    STANDARD_FAMILY,
    relative_errors,
    save_cell,
    verify_standard,
)
from spectral_cli.config.loader import dump_yaml
from spectral_cli.config.spectra_lstm import INITS, SpectraLSTMRunConfig
from spectral_cli.data.signals import sine_batch, sine_bound
from spectral_cli.io import spectra_lstm_plots as plots
from spectral_cli.io.atomic import write_text_atomic
from spectral_cli.io.checkpoint import model_metadata, save_tensors
from spectral_cli.io.report import write_report
from spectral_cli.io.rundir import STATE_FILE
from spectral_cli.io.spectra_lstm_report import (
    CurvePoint,
    ModelResult,
    SpectraLSTMTrainReport,
    VerifySummary,
)
from spectral_cli.models.spectra_lstm import (
    SpectraCell,
    block_drift,
    build_model,
    theta_hh_of,
    weight_hh_of,
)
from spectral_cli.training.device import seed_everything
from spectral_cli.training.interrupt import StopFlag
from spectral_cli.training.loop import STATE_FAMILY, Observer, SilentObserver, Trainer, evaluate


@dataclass
class Split:
    x: Tensor  # [n, windows * T]
    y: Tensor  # [n, windows, T] power spectra (float64 FFT)

    def __len__(self) -> int:
        return int(self.x.shape[0])


def make_split(cfg: SpectraLSTMRunConfig, count: int, seed: int, dtype: torch.dtype) -> Split:
    T, d = cfg.model.window, cfg.data
    x = sine_batch(count, d.windows * T, T, d.n_sines, seed)
    return Split(x.to(dtype), core.reference_spectra(x, T).to(dtype))


def make_loss(norm: float):  # noqa: ANN201 - the Trainer's loss_fn signature
    def loss_fn(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return (model(x) - y).square().mean() / norm, torch.zeros((), dtype=torch.long)

    return loss_fn


def run_spectra_lstm(
    cfg: SpectraLSTMRunConfig,
    run_dir: Path,
    device: torch.device,
    *,
    resume: bool = False,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
) -> SpectraLSTMTrainReport:
    """Train ``cfg.inits()`` one after the other into ``run_dir``; write and return the report."""
    observer = observer or SilentObserver()
    started = time.perf_counter()
    seed_everything(cfg.seed)
    dt = core.resolve_dtype(cfg.model.dtype)
    T = cfg.model.window
    bound = sine_bound(cfg.data.n_sines, T)
    train = make_split(cfg, cfg.train.eval_every * cfg.train.batch_size, cfg.seed, dt)
    val = make_split(cfg, cfg.data.n_val, 10_000 + cfg.seed, dt)
    test = make_split(cfg, cfg.data.n_test, 20_000 + cfg.seed, dt)
    norm = float(train.y.double().square().mean())
    config_json = cfg.model_dump(mode="json")
    meta = model_metadata("spectra-lstm", config_json)
    write_text_atomic(run_dir / "config.yaml", dump_yaml(cfg))
    # the run's marker for --resume (its config); the models' states are <init>/state.safetensors
    save_tensors(run_dir / STATE_FILE, {"run.window": torch.tensor([T])},
                     {**meta, "spectral.family": STATE_FAMILY})
    loss_fn = make_loss(norm)
    verify_x = sine_batch(1, cfg.data.verify_windows * T, T, cfg.data.n_sines, 30_000 + cfg.seed)[0]
    results, curves = [], {}
    for init in cfg.inits():  # seeded by name: an --init run equals that part of --compare
        seed = cfg.seed * 7919 + INITS.index(init)
        res = _train_one(cfg, init, seed, run_dir, device, (train, val, test), loss_fn, bound,
                         verify_x, meta, resume, observer, stop)
        results.append(res)
        curves[init] = ([p.step for p in res.curve], [p.train_loss for p in res.curve],
                        [p.val_loss for p in res.curve])
    files = {"config": "config.yaml", "state": STATE_FILE, "loss_curves": "loss_curves.png"}
    plots.loss_curves(curves, f"spectra-lstm T={T} ({cfg.model.dtype}, lr {cfg.train.lr:g}, "
                      f"seed {cfg.seed})", run_dir / "loss_curves.png")
    ref = core.construct(T, dt, input_bound=bound)
    report = SpectraLSTMTrainReport(
        config=config_json, seed=cfg.seed, device=str(device), window=T,
        hidden_size=ref.hidden_size, dtype=cfg.model.dtype, input_bound=ref.scales["input_bound"],
        loss_normalizer=norm, steps=cfg.train.epochs * cfg.train.eval_every, models=results,
        wall_seconds=time.perf_counter() - started, resumed=resume, files=files,
    )
    files["report"] = "report.json"
    write_report(run_dir / "report.json", report)
    return report


def _train_one(cfg: SpectraLSTMRunConfig, init: str, seed: int, run_dir: Path,
               device: torch.device, splits: tuple[Split, Split, Split], loss_fn, bound: float,  # noqa: ANN001
               verify_x: Tensor, meta: dict[str, str], resume: bool, observer: Observer,
               stop: StopFlag | None) -> ModelResult:
    train, val, test = splits
    sub = run_dir / init
    sub.mkdir(exist_ok=True)
    dt = core.resolve_dtype(cfg.model.dtype)
    model, ref = build_model(init, cfg.model.window, dt, bound, cfg.model.noise, seed)
    model = model.to(device)
    init_whh = weight_hh_of(model).cpu()
    init_theta = theta_hh_of(model).cpu()
    bs = max(cfg.train.batch_size, 256)
    init_point = CurvePoint(step=0, train_loss=evaluate(model, train, bs, device, loss_fn)[0],
                            val_loss=evaluate(model, val, bs, device, loss_fn)[0])

    def evaluate_fn(m: nn.Module) -> dict[str, float]:
        return {"val_loss": evaluate(m, val, bs, device, loss_fn)[0], "val_acc": 0.0}

    optimizer = None
    if cfg.train.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.train.lr,
                                    momentum=cfg.train.momentum,
                                    weight_decay=cfg.train.weight_decay)
    trainer = Trainer(model, cfg.train.loop_config(), train, val, device, seed, sub / STATE_FILE,
                      state_metadata={"spectral.config": meta["spectral.config"]},
                      observer=observer, stop=stop, loss_fn=loss_fn, evaluate_fn=evaluate_fn,
                      select_on="loss", optimizer=optimizer)
    if resume and (sub / STATE_FILE).is_file():
        trainer.load_state()
    observer.log(f"{init}: step-0 validation nMSE {init_point.val_loss:.3g}")
    state = trainer.fit()  # final weights stay in `model`; best_weights are not used
    model.eval()
    every = cfg.train.eval_every
    curve = [init_point] + [CurvePoint(step=int(h["epoch"]) * every, train_loss=h["loss"],
                                       val_loss=h["val_loss"]) for h in state.history]
    with torch.no_grad():
        pred = torch.cat([model(test.x[i : i + bs].to(device)).cpu()
                          for i in range(0, len(test), bs)])
    test_loss = evaluate(model, test, bs, device, loss_fn)[0]
    T = cfg.model.window
    rel = relative_errors(pred.reshape(-1, T), test.y.double().reshape(-1, T))
    after_whh = weight_hh_of(model).cpu()
    blocks = ref.blocks
    is_cell = isinstance(model, SpectraCell)
    if is_cell:
        weights = model.weights()
        ver = core.verify(weights, verify_x, device=device)
        save_cell(sub / CHECKPOINT, weights, run_config=meta["spectral.config"], init=init)
    else:
        ver = verify_standard(model, verify_x.to(device), None)
        std_config = {"window": cfg.model.window, "hidden_size": ref.hidden_size,
                      "dtype": cfg.model.dtype, "readout_delay": 0}
        save_tensors(sub / CHECKPOINT, model.state_dict(),
                     model_metadata(STANDARD_FAMILY, std_config, run_config=meta["spectral.config"],
                                    init=init))
    natural = init in ("exact", "perturbed")  # raw weights span 1e-17..1e20: plot theta
    plots.weight_hh_before_after(
        (init_theta if natural else init_whh).numpy(),
        (theta_hh_of(model) if natural else after_whh).cpu().numpy(), blocks,
        f"{init}: weight_hh {'in natural units (theta = W / scale)' if natural else '(raw)'}, "
        f"T={cfg.model.window}, {cfg.model.dtype}, {cfg.train.epochs * every} steps",
        sub / "weight_hh.png")
    construction_whh = ref.weight_hh.double()
    ref_theta = construction_whh / (model.scale_weight_hh.cpu().double() if is_cell else 1.0)
    observer.log(f"{init}: test nMSE {test_loss:.3g}, verify "
                 f"{'pass' if ver.passed else 'fail'} (worst {ver.max_error:.3g})")
    return ModelResult(
        init=init,
        cell="contract (tanh input gate)" if is_cell else "nn.LSTM (sigmoid input gate)",
        parameterization="natural units" if init in ("exact", "perturbed") else "raw",
        params=sum(p.numel() for p in model.parameters()),
        curve=curve, test_loss=test_loss, test_max_rel_error=float(rel.max()),
        test_median_rel_error=float(rel.median()),
        drift_from_init=block_drift(init_whh, after_whh, blocks),
        drift_natural=block_drift(init_theta, theta_hh_of(model).cpu(), blocks),
        distance_to_construction=block_drift(construction_whh, after_whh, blocks),
        construction_distance_natural_init=block_drift(ref_theta, init_theta, blocks),
        construction_distance_natural=block_drift(ref_theta, theta_hh_of(model).cpu(), blocks),
        verify=VerifySummary(passed=ver.passed, max_error=_finite(ver.max_error), tol=ver.tol,
                             worst_window=ver.worst_window, worst_bin=ver.worst_bin,
                             windows=ver.windows, note=ver.note),
        checkpoint=f"{init}/{CHECKPOINT}", heatmap=f"{init}/weight_hh.png",
        seconds=sum(h["seconds"] for h in state.history),
    )


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 1e308
