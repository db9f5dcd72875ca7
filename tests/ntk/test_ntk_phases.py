"""``spectral ntk`` computes no kernel twice and reports seconds per phase."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import invoke

from spectral_cli.core.phases import PhaseTimer
from spectral_cli.ntk import experiment as ex
from spectral_cli.ntk import store as store_mod
from spectral_cli.ntk.config import NTKRunConfig
from spectral_cli.ntk.encodings import ENCODINGS
from spectral_cli.ntk.run import prepare
from spectral_cli.ntk.store import KernelStore

TINY = ["--width", "16", "--depth", "3", "--m", "4", "--n-train", "8", "--n-test", "12"]
PHASES = {"setup", "kernels", "eigendecomposition", "regression", "plots", "io", "other", "total"}


def _count_kernels(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the shapes of every kernel the run really computes (store and experiment)."""
    calls: list[tuple[int, int]] = []
    real = ex.cross_kernel

    def counting(cfg, net, f_a, f_b=None):  # type: ignore[no-untyped-def]
        k = real(cfg, net, f_a, f_b)
        calls.append(tuple(k.shape))
        return k

    monkeypatch.setattr(store_mod, "cross_kernel", counting)
    return calls


@pytest.mark.parametrize("kernel", ["empirical", "analytic"])
def test_default_run_computes_each_kernel_once(
    runner, tmp_path: Path, kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_kernels(monkeypatch)
    r = invoke(
        runner,
        "ntk",
        *TINY,
        "--kernel",
        kernel,
        "--train-steps",
        "5",
        "--out",
        tmp_path / "run",
        "--json",
    )
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    evals = rep["kernel_evaluations"]
    assert len(evals) == len(set(evals)), Counter(evals).most_common(2)
    # kernels: the own mapping's K_train, K_test and profile row; every other mapping's K_train
    assert len(calls) == 3 + (len(ENCODINGS) - 1)
    assert len(evals) == 4 + 2 * (len(ENCODINGS) - 1)  # + an eigendecomposition for each
    assert calls.count((8, 8)) == len(ENCODINGS)  # one train kernel per mapping, own included
    assert calls.count((12, 8)) == 1
    # the spectrum plot's curve of the run's own mapping is the run's spectrum itself
    assert rep["spectrum"]["per_encoding"]["toy"] == rep["spectrum"]["eigvals"]
    t = rep["timing"]
    assert PHASES | {"dynamics"} <= set(t)
    assert all(v >= 0 for v in t.values())
    assert sum(v for k, v in t.items() if k != "total") == pytest.approx(t["total"], rel=1e-6)
    assert t["total"] <= rep["wall_seconds"] + 1e-6


def test_sweep_reuses_the_runs_own_kernel(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_kernels(monkeypatch)
    r = invoke(
        runner,
        "ntk",
        *TINY,
        "--sweep-p",
        "0,1,inf",
        "--set",
        "train.sweep_steps=5",
        "--out",
        tmp_path / "s",
        "--json",
    )  # the run's own p is 1
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    evals = rep["kernel_evaluations"]
    assert len(evals) == len(set(evals)), Counter(evals).most_common(2)
    own = [e for e in evals if e.startswith("toy p=1 ")]
    assert sorted(w.split(": ")[1] for w in own) == ["eig", "profile", "test", "train"]
    # p = 0 and p = inf: train, test, eig, profile each; other mappings: train + eig
    assert len(evals) == 4 + 2 * 4 + 2 * (len(ENCODINGS) - 1)
    assert len(calls) == 3 + 2 * 3 + (len(ENCODINGS) - 1)
    assert rep["sweep"][1]["value"] == 1.0
    assert rep["sweep"][1]["condition_number"] == rep["spectrum"]["condition_number"]
    assert {"sweep", "regression"} <= set(rep["timing"])


def test_store_gives_the_same_kernels_as_direct_computation() -> None:
    cfg = NTKRunConfig.model_validate(
        {"model": {"width": 16, "depth": 3, "m": 4}, "task": {"n_train": 8, "n_test": 12}}
    )
    prep = prepare(cfg)
    store = KernelStore(prep.cfg, prep.task, torch.device("cpu"))
    var = store.variant(p=0.0)
    net = ex.build_network(cfg.model, var.f_train.shape[1], cfg.seed, torch.device("cpu"))
    enc = ex.build_encoding(cfg.model, 1, cfg.seed, n_grid=prep.task.n_grid, p=0.0)
    f_tr, f_te = enc(prep.task.x_train), enc(prep.task.x_test)
    k_tr, k_te = ex.cross_kernel(cfg, net, f_tr), ex.cross_kernel(cfg, net, f_te, f_tr)
    assert torch.equal(var.k_train(), k_tr) and torch.equal(var.k_test(), k_te)
    assert store.variant() is store.variant(p=cfg.model.p)  # the own variant, kept
    assert store.variant(p=0.0) is not var  # others are not kept


def test_phase_timer_is_exclusive() -> None:
    timer = PhaseTimer()
    with timer("outer"):
        time.sleep(0.02)
        with timer("inner"):
            time.sleep(0.05)
        time.sleep(0.02)
    with timer("inner"):
        time.sleep(0.01)
    rep = timer.report()
    assert rep["inner"] == pytest.approx(0.06, abs=0.03)  # sleeps are a lower bound
    assert 0.04 <= rep["outer"] < 0.04 + 0.03  # the inner 0.05 s is not counted twice
    assert rep["inner"] + rep["outer"] + rep["other"] == pytest.approx(rep["total"])
