"""One ``spectral ntk`` run: prepare (all validation, before a run directory exists) and run.

Writes ``ntk.safetensors``, ``model.safetensors`` (+ ``trained.safetensors``), ``figures.npz``
(the figures' data) and unless ``--no-plots`` ``spectrum.png`` (eigenvalue decay per mapping),
``kernel_profile.png`` (K against x_i - x_j; 1-D tasks), ``dynamics.png`` (``--train-steps``),
``sweep.png`` (sweeps) (see :mod:`spectral_cli.ntk.plots`), ``config.yaml`` and ``report.json``
(see :mod:`spectral_cli.ntk.report`, which also summarizes the dynamics). Dynamics use target signal
0; regression errors are averaged over all targets.

The number of frequencies is resolved here, where the task's grid is known: ``model.m`` unset
means the encoding's default (toy on toy1d: the original document's full basis j = 1..N/2 of the
N-point grid, 128 for the preset; posenc/gauss: 16); the report's ``config.m`` is the number used,
``config.m_source`` says whether it came from ``--m`` or the default, and a note explains it.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from spectral_cli.core.device import seed_everything
from spectral_cli.core.evaluation import Observer, SilentObserver
from spectral_cli.core.phases import PhaseTimer
from spectral_cli.core.runs import RunDir
from spectral_cli.core.signals import StopFlag
from spectral_cli.ntk import experiment, plots
from spectral_cli.ntk.config import NTKRunConfig, check_ntk_config, resolved_m
from spectral_cli.ntk.encodings import ENCODINGS
from spectral_cli.ntk.report import NTKReport, dynamics_section, save_kernel, save_model
from spectral_cli.ntk.store import KernelStore
from spectral_cli.ntk.sweep import run_sweep
from spectral_cli.ntk.tasks import RegressionTask, load_task


@dataclass(frozen=True)
class Prepared:
    cfg: NTKRunConfig
    task: RegressionTask


def prepare(cfg: NTKRunConfig) -> Prepared:
    """Cross-field checks and the task (both raise BadInput)."""
    check_ntk_config(cfg)
    t = cfg.task
    task = load_task(
        t.name,
        n_train=t.n_train,
        n_test=t.n_test,
        stride=t.stride,
        slope=t.slope,
        signals=t.signals,
        seed=cfg.seed,
    )
    experiment.build_encoding(
        cfg.model, task.in_features, cfg.seed, n_grid=task.n_grid
    )  # bad p, m, scale
    return Prepared(cfg=cfg, task=task)


def _m_note(cfg: NTKRunConfig, task: RegressionTask) -> str | None:
    """Which number of frequencies the run's mapping uses, and why (``report.notes``)."""
    m, enc = cfg.model, cfg.model.encoding
    used = resolved_m(m, enc, task.n_grid)
    if enc in ("none", "basic"):
        return None
    if m.m is not None:
        return f"m = {used} frequencies (--m)"
    if enc == "toy" and task.n_grid is not None:
        return (
            f"m = {used} frequencies: the toy default, the original document's full Fourier basis "
            f"b_j = j, j = 1..{used} = N/2 of the N = {task.n_grid}-point grid"
        )
    return f"m = {used} frequencies (the {enc} default)"


def _profile_grid(task: RegressionTask) -> torch.Tensor | None:
    if task.in_features != 1:
        return None
    if task.x_grid is not None:
        return task.x_grid
    xs = task.x_train if task.x_test is None else torch.cat([task.x_train, task.x_test])
    return torch.linspace(float(xs.min()), float(xs.max()), 256, dtype=torch.float64)[:, None]


def run(
    prep: Prepared,
    run_dir: RunDir,
    device: torch.device,
    *,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
    draw: bool = True,
) -> NTKReport:
    """The whole experiment; returns the report (already written to ``run_dir``). ``draw``
    false (``--no-plots``) writes the figures' data but no figure.

    Each kernel is computed once (:class:`~spectral_cli.ntk.store.KernelStore`); ``timing``
    gives exclusive seconds per phase (:class:`~spectral_cli.core.phases.PhaseTimer`).
    """
    t0 = time.perf_counter()
    timer = PhaseTimer(device)
    cfg, task, obs = prep.cfg, prep.task, observer or SilentObserver()
    seed_everything(cfg.seed)
    with timer("io"):
        run_dir.write_config(cfg)
    contract = cfg.contract(task.n_grid) | {"in_features": task.in_features}
    files: dict[str, str] = {"config": RunDir.CONFIG}
    notes: list[str] = [n for n in (_m_note(cfg, task),) if n]
    store = KernelStore(cfg, task, device, timer)
    own = store.variant()
    enc, f_tr, f_te = own.encoding, own.f_train, own.f_test
    steps = cfg.train.steps or 0
    net = None
    if cfg.kernel == "empirical" or steps > 0:
        net = own.network
        with timer("io"):
            save_model(run_dir / RunDir.MODEL, net, enc, contract, "init")
        files["model"] = RunDir.MODEL
    obs.log(f"kernel: {cfg.kernel}, {f_tr.shape[0]} train x {f_tr.shape[1]} features")
    k_tr, k_te, eig = own.k_train(), own.k_test(), own.eig()
    with timer("regression"):
        pred_tr, pred_te, reg_notes = experiment.regress(k_tr, task.y_train, k_te, eig)
    notes += reg_notes
    regression: dict[str, Any] = {
        "train_mse": float(experiment.mse(pred_tr, task.y_train).mean()),
        "test_mse": None,
        "n_signals": task.n_signals,
    }
    if pred_te is not None and task.y_test is not None:
        per = experiment.mse(pred_te, task.y_test)
        regression.update(
            test_mse=float(per.mean()),
            test_mse_per_signal=per.tolist(),
            test_mse_std=float(per.std()) if per.numel() > 1 else 0.0,
        )
    single = task.n_signals == 1
    with timer("io"):
        save_kernel(
            run_dir / "ntk.safetensors",
            {
                "features_train": f_tr,
                "x_train": task.x_train,
                "K_train": k_tr,
                "eigvals": eig.eigvals,
                "eigvecs": eig.eigvecs,
                "y_train": task.y_train[:, 0] if single else task.y_train,
                "features_test": f_te,
                "x_test": task.x_test,
                "K_test": k_te,
                "y_test": None
                if task.y_test is None
                else (task.y_test[:, 0] if single else task.y_test),
                "pred_test": None if pred_te is None else (pred_te[:, 0] if single else pred_te),
            },
            contract,
        )
    files["kernel"] = "ntk.safetensors"
    # every mapping's spectrum with this MLP (each with --m or its own default m); the run's
    # own mapping is the variant computed above, not a second time
    per_enc = {name: store.variant(encoding=name).eig().eigvals.tolist() for name in ENCODINGS}
    fig_data: dict[str, np.ndarray] = {}  # what the figures need beyond the report
    grid = _profile_grid(task)
    if grid is not None:
        dx, row = own.profile(grid)
        fig_data.update(profile_dx=dx.double().numpy(), profile_k=row.double().numpy())
    dyn_section = None
    if steps > 0:
        assert net is not None
        lr = cfg.train.lr or experiment.default_lr(eig)
        every = cfg.train.record_every or max(1, steps // 100)
        trained = copy.deepcopy(net)
        y0 = task.y_train[:, 0]
        y0_te = None if task.y_test is None else task.y_test[:, 0]
        with timer("dynamics"):
            dyn = experiment.dynamics(
                trained,
                f_tr,
                y0,
                f_te,
                k_tr,
                k_te,
                eig,
                steps=steps,
                lr=lr,
                record_every=every,
                device=device,
                stop=stop,
            )
            obs.log(f"trained {steps} full-batch GD steps, lr {lr:.4g}")
            dyn_section = dynamics_section(dyn, y0, y0_te, eig.eigvals, lr, steps)
        with timer("io"):
            save_model(
                run_dir / "trained.safetensors",
                trained,
                enc,
                contract,
                "trained",
                steps=dyn_section["steps"],
                lr=lr,
            )
        files["trained_model"] = "trained.safetensors"
        fig_data["residual_net"] = dyn.residual_net.double().numpy()
        fig_data["residual_ntk"] = dyn.residual_ntk.double().numpy()
    sweep_rows = None
    if cfg.sweep.param is not None:
        sweep_steps = cfg.train.steps or cfg.train.sweep_steps
        points = run_sweep(store, sweep_steps, cfg.train.record_every, obs, stop)
        sweep_rows = [
            {
                k: v
                for k, v in asdict(p).items()
                if k not in ("profile", "eigvals") and "curve" not in k and k != "steps"
            }
            | {"steps": p.steps[-1]}
            for p in points
        ]
        for p in points:
            notes += [f"{cfg.sweep.param}={p.value:g}: {n}" for n in p.notes]
        fig_data.update(plots.sweep_arrays(points))
    with timer("io"):
        plots.save_figure_data(run_dir / plots.FIGURE_DATA, fig_data)
    files["figure_data"] = plots.FIGURE_DATA
    if draw:
        files.update(plots.figure_files({"dynamics": dyn_section, "sweep": sweep_rows}, fig_data))
    cond = eig.condition_number
    report = NTKReport(
        config=contract
        | {
            "m_source": "--m" if cfg.model.m is not None else "default",
            "kernel": cfg.kernel,
            "seed": cfg.seed,
            "task": cfg.task.model_dump(mode="json"),
            "train": cfg.train.model_dump(mode="json"),
            "sweep": cfg.sweep.model_dump(mode="json"),
        },
        seed=cfg.seed,
        device=str(device),
        kernel=cfg.kernel,
        task={
            "source": task.source,
            "n_train": int(task.x_train.shape[0]),
            "n_test": None if task.x_test is None else int(task.x_test.shape[0]),
            "in_features": task.in_features,
            "n_grid": task.n_grid,
            "feature_dim": int(f_tr.shape[1]),
            "n_signals": task.n_signals,
        },
        spectrum={
            "eigvals": eig.eigvals.tolist(),
            "condition_number": cond if math.isfinite(cond) else math.inf,
            "per_encoding": per_enc,
        },
        regression=regression,
        dynamics=dyn_section,
        sweep=sweep_rows,
        files=files,
        notes=notes,
        wall_seconds=time.perf_counter() - t0,
        timing=timer.report(),
        kernel_evaluations=[
            f"{key[0]} p={key[2]:g} scale={key[3]:g}: {what}" for key, what in store.computed
        ],
    )
    files["report"] = RunDir.REPORT
    if draw:
        with timer("plots"):
            plots.draw(run_dir.path, json.loads(report.model_dump_json()), fig_data)
        report = report.model_copy(
            update={"timing": timer.report(), "wall_seconds": time.perf_counter() - t0}
        )
    run_dir.write_report(report)
    return report
