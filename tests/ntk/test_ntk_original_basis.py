"""Issue 16: the toy mapping's default is the seed's full Fourier basis, and the p trade-off holds.

Seed 004, "Effect of Fourier Features in 1D toy system": ``b_j = j`` (a full Fourier basis in 1-D)
and ``a_j = 1 / j**p`` for ``j = 1, ..., n/2`` in eq. 5, n the number of grid points (Tancik et
al.'s notebook: ``bvals = arange(1, N // 2 + 1)`` on the ``N = 32 * 8 = 256``-point grid).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import invoke, read_report

from spectral_cli.core.config import presets_dir, read_yaml
from spectral_cli.ntk import experiment as ex
from spectral_cli.ntk.config import DEFAULT_M, NTKRunConfig, natural_m, resolved_m
from spectral_cli.ntk.kernels import kernel_eigh
from spectral_cli.ntk.run import prepare
from spectral_cli.ntk.tasks import powerlaw_signal

F64 = torch.float64


def _preset(**model: object) -> NTKRunConfig:
    raw = read_yaml(presets_dir() / "ntk-toy.yaml")
    raw["model"] = {**raw.get("model", {}), **model}
    return NTKRunConfig.model_validate(raw)


def _seed_gamma(v: torch.Tensor, n: int, p: float) -> torch.Tensor:
    """Seed eq. 5 for the 1-D toy, written out: j = 1..n/2, b_j = j, a_j = j^-p (p = inf: a_1
    only), as [a cos(2 pi b v)..., a sin(2 pi b v)...] / ||a|| (Tancik's normalization)."""
    j = torch.arange(1, n // 2 + 1, dtype=F64)
    a = (j == 1).to(F64) if math.isinf(p) else j ** (-p)
    arg = 2 * math.pi * v[:, None] * j[None, :]
    return torch.cat([a * torch.cos(arg), a * torch.sin(arg)], dim=1) / a.norm()


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 2.0, math.inf])
def test_toy_default_is_the_seeds_full_basis(p: float) -> None:
    cfg = _preset(p=p)
    assert cfg.model.encoding == "toy" and cfg.model.m is None  # preset: the encoding's default
    task = prepare(cfg).task
    n = task.n_grid
    assert n == 256 and task.x_grid is not None  # 32 training points, stride 8
    enc = ex.build_encoding(cfg.model, task.in_features, cfg.seed, n_grid=n)
    torch.testing.assert_close(enc.B[:, 0], torch.arange(1, n // 2 + 1, dtype=F64))
    assert enc.out_features == n  # 2 * n/2 features: 128 frequencies
    grid = task.x_grid[:, 0]
    torch.testing.assert_close(enc(grid), _seed_gamma(grid, n, p), rtol=0, atol=1e-12)
    assert cfg.contract(n)["m"] == n // 2


def test_m_override_and_the_other_defaults() -> None:
    assert natural_m("toy", 256) == 128 and natural_m("toy", 64) == 32
    assert natural_m("toy", None) == DEFAULT_M == 16  # a task file has no grid
    assert natural_m("posenc", 256) == natural_m("gauss", 256) == 16
    cfg = _preset(m=16)
    assert resolved_m(cfg.model, "toy", 256) == 16  # --m wins for every encoding
    assert resolved_m(cfg.model, "gauss", 256) == 16
    enc = ex.build_encoding(cfg.model, 1, 0, n_grid=256)
    assert enc.out_features == 32
    default = _preset()
    assert ex.build_encoding(default.model, 1, 0, n_grid=256, encoding="posenc").out_features == 32
    assert ex.build_encoding(default.model, 2, 0, n_grid=None, encoding="gauss").B.shape == (16, 2)


def test_report_records_the_frequencies_used(runner, tmp_path: Path) -> None:
    small = ["--kernel", "analytic", "--n-train", "8", "--n-test", "12", "--depth", "2"]
    r = invoke(runner, "ntk", *small, "--out", tmp_path / "d", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["task"]["n_grid"] == 64 and rep["task"]["feature_dim"] == 64
    assert rep["config"]["m"] == 32 and rep["config"]["m_source"] == "default"
    assert any("j = 1..32 = N/2 of the N = 64-point grid" in n for n in rep["notes"])
    r = invoke(runner, "ntk", *small, "--m", "4", "--out", tmp_path / "o", "--quiet")
    assert r.exit_code == 0, r.output
    rep = read_report(tmp_path / "o")
    assert rep["config"]["m"] == 4 and rep["config"]["m_source"] == "--m"
    assert rep["task"]["feature_dim"] == 8
    # the network's checkpoint metadata records the resolved number too
    r = invoke(
        runner,
        "ntk",
        "--n-train",
        "8",
        "--n-test",
        "12",
        "--depth",
        "2",
        "--width",
        "8",
        "--out",
        tmp_path / "e",
        "--quiet",
    )
    assert r.exit_code == 0, r.output
    from safetensors import safe_open

    with safe_open(str(tmp_path / "e" / "model.safetensors"), framework="pt") as fh:
        meta = json.loads(fh.metadata()["spectral.config"])
    assert meta["m"] == 32


def _ntk_test_mse(m: int | None, p: float, slope: float) -> float:
    """Analytic-NTK regression test MSE on the preset's toy1d, mean over 5 targets."""
    raw = read_yaml(presets_dir() / "ntk-toy.yaml")
    raw["kernel"] = "analytic"
    raw["task"] = {**raw.get("task", {}), "slope": slope, "signals": 5}
    raw["model"] = {**raw.get("model", {}), "m": m, "p": p}
    cfg = NTKRunConfig.model_validate(raw)
    task = prepare(cfg).task
    enc = ex.build_encoding(cfg.model, 1, cfg.seed, n_grid=task.n_grid)
    f_tr, f_te = enc(task.x_train), enc(task.x_test)
    k_tr, k_te = ex.cross_kernel(cfg, None, f_tr), ex.cross_kernel(cfg, None, f_te, f_tr)
    _, te, _ = ex.regress(k_tr, task.y_train, k_te, kernel_eigh(k_tr))
    assert te is not None and task.y_test is not None
    return float(ex.mse(te, task.y_test).mean())


def test_seed_basis_shows_the_p_tradeoff_and_m16_does_not() -> None:
    """Seed 004: 'choosing p is a tradeoff between expressiveness and overfitting ... p = 1 is the
    optimal choice'. With the full basis p = 0 overfits and p = 1 beats both p = 0 and p = inf on
    the alpha = 1 targets; with m = 16 p = 0 is (nominally) best there: no trade-off."""
    full = {p: _ntk_test_mse(None, p, 1.0) for p in (0.0, 1.0, math.inf)}
    assert full[1.0] < full[math.inf] < full[0.0]
    assert full[0.0] > 1.5 * full[1.0]
    assert _ntk_test_mse(None, 0.0, 2.0) > 4 * _ntk_test_mse(None, 1.0, 2.0)
    narrow = {p: _ntk_test_mse(16, p, 1.0) for p in (0.0, 1.0)}
    assert narrow[0.0] < narrow[1.0]


def test_readme_figure_from_real_sweep_reports(runner, tmp_path: Path) -> None:
    """``python -m spectral_cli.ntk.figure`` draws the docs/results/ntk.md figure from sweeps."""
    from spectral_cli.ntk.figure import main

    tiny = [
        "--kernel",
        "analytic",
        "--n-train",
        "8",
        "--n-test",
        "12",
        "--depth",
        "2",
        "--width",
        "8",
        "--sweep-p",
        "0,1,inf",
        "--signals",
        "2",
        "--set",
        "train.sweep_steps=3",
    ]
    dirs = []
    for slope, m in (("1", []), ("2", []), ("2", ["--m", "4"])):
        out = tmp_path / f"s{slope}{len(m)}"
        r = invoke(runner, "ntk", *tiny, "--target-slope", slope, *m, "--out", out, "--quiet")
        assert r.exit_code == 0, r.output
        dirs.append(str(out))
    rows = read_report(Path(dirs[0]))["sweep"]
    for row in rows:  # per-target values: the same targets at every p, comparable pairwise
        per = row["test_mse_ntk_per_signal"]
        assert len(per) == 2 and len(row["test_mse_network_per_signal"]) == 2
        assert sum(per) / 2 == pytest.approx(row["test_mse_ntk"], rel=1e-12)
    png = tmp_path / "fig.png"
    assert main([str(png), *dirs]) == 0
    assert png.stat().st_size > 10_000
    assert main([str(png)]) == 2
    assert main([str(tmp_path / "x.png"), str(tmp_path / "s10")]) == 0


def test_toy1d_task_is_the_notebooks_setup() -> None:
    """toy1d (the seed names no targets; Tancik et al.'s notebook): 256-point grid, every 8th
    point trains (32), the other 224 test; targets band-limited below N/4 = 64, scaled to
    [-0.5, 0.5]; signal i uses seed + i, so a slope change keeps the phases."""
    cfg = _preset()
    task = prepare(cfg).task
    assert task.x_grid is not None and task.y_grid is not None
    grid = task.x_grid[:, 0]
    torch.testing.assert_close(grid, torch.arange(256, dtype=F64) / 256)
    torch.testing.assert_close(task.x_train[:, 0], grid[::8])
    assert task.x_test is not None and task.x_test.shape == (224, 1)
    y = task.y_grid[:, 0]
    assert float(y.min()) == -0.5 and float(y.max()) == pytest.approx(0.5, abs=1e-15)
    spec = torch.fft.rfft(y).abs()
    assert float(spec[64:].max()) < 1e-12 * float(spec[1:64].max())
    a = torch.fft.rfft(powerlaw_signal(256, 1.0, 0))
    b = torch.fft.rfft(powerlaw_signal(256, 2.0, 0))
    f = torch.arange(1, 64, dtype=F64)
    ratio = (a[1:64] / b[1:64]).abs()  # amplitude ratio (1+f)^(-1/2) / (1+f)^(-1), up to scale
    expected = (1 + f).sqrt()
    torch.testing.assert_close(ratio / ratio[0], expected / expected[0], rtol=1e-9, atol=0)
