"""``spectral ntk`` end to end on tiny sizes: outputs contract, dynamics, sweep, bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, invoke, read_report
from safetensors import safe_open
from safetensors.torch import load_file

TINY = ["--width", "16", "--depth", "3", "--m", "4", "--n-train", "8", "--n-test", "12"]


def _meta(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata())


def _rebuild(model_path: Path) -> tuple[dict, callable]:  # type: ignore[valid-type]
    """An independent few-line MLP + mapping from model.safetensors and its metadata."""
    w = load_file(str(model_path))
    cfg = json.loads(_meta(model_path)["spectral.config"])
    assert cfg["parameterization"] == "ntk" and cfg["encoding"] == "toy"

    def f(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        proj = 2 * math.pi * x @ w["encoding.B"].T
        a = torch.cat([w["encoding.a"] * torch.cos(proj), w["encoding.a"] * torch.sin(proj)], 1)
        for i in range(cfg["depth"]):
            W, b = params[f"layers.{i}.weight"], params[f"layers.{i}.bias"]
            a = cfg["w_std"] / math.sqrt(W.shape[1]) * a @ W.T + cfg["b_std"] * b
            a = torch.relu(a) if i < cfg["depth"] - 1 else a
        return a[:, 0]

    return {k: v for k, v in w.items() if k.startswith("layers.")}, f


def test_empirical_run_contract_and_reload(runner, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = invoke(runner, "ntk", *TINY, "--train-steps", "40", "--seed", "3", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    for key in ("parameterization", "w_std", "b_std", "depth", "width", "encoding"):
        assert key in rep["config"]
    k = load_file(str(out / "ntk.safetensors"))
    n = 8
    assert k["features_train"].shape == (n, 8) and k["x_train"].shape == (n, 1)
    assert k["K_train"].shape == (n, n) and k["y_train"].shape == (n,)
    assert k["K_test"].shape == (12, n) and k["features_test"].shape == (12, 8)
    assert torch.all(k["eigvals"][:-1] >= k["eigvals"][1:])
    torch.testing.assert_close(k["K_train"], k["K_train"].T)
    meta = json.loads(_meta(out / "model.safetensors")["spectral.config"])
    assert {kk: meta[kk] for kk in ("depth", "width", "encoding")} == {
        "depth": 3,
        "width": 16,
        "encoding": "toy",
    }
    assert _meta(out / "model.safetensors")["spectral.family"] == "ntk-mlp"
    # independent MLP from the files reproduces K (autograd Jacobian) and trained predictions
    params, f = _rebuild(out / "model.safetensors")
    x = k["x_train"]
    jac = torch.func.jacrev(lambda p: f(p, x))(params)
    J = torch.cat([j.reshape(n, -1) for j in jac.values()], 1)
    torch.testing.assert_close(J @ J.T, k["K_train"], rtol=1e-10, atol=1e-12)
    trained, _ = _rebuild(out / "trained.safetensors")
    d = rep["dynamics"]
    pred = f(trained, k["x_test"])
    mse = float(((pred - k["y_test"]) ** 2).mean())
    assert mse == pytest.approx(d["test_mse_network"], rel=1e-9)
    assert {"report.json", "spectrum.png", "kernel_profile.png", "dynamics.png", "config.yaml"} <= {
        p.name for p in out.iterdir()
    }


def test_analytic_run_without_network(runner, tmp_path: Path) -> None:
    out = tmp_path / "a"
    r = invoke(
        runner,
        "ntk",
        "--kernel",
        "analytic",
        "--encoding",
        "gauss",
        "--m",
        "8",
        "--n-train",
        "8",
        "--out",
        out,
        "--quiet",
    )
    assert r.exit_code == 0, r.output
    assert not (out / "model.safetensors").exists()
    rep = read_report(out)
    assert rep["kernel"] == "analytic" and rep["config"]["encoding"] == "gauss"
    k = load_file(str(out / "ntk.safetensors"))
    lam = torch.linalg.eigvalsh(k["K_train"]).flip(0)
    torch.testing.assert_close(lam, k["eigvals"])
    assert set(rep["spectrum"]["per_encoding"]) == {"none", "basic", "toy", "posenc", "gauss"}


def test_dynamics_gap_small_for_wide_network(runner, tmp_path: Path) -> None:
    out = tmp_path / "d"
    r = invoke(
        runner,
        "ntk",
        "--width",
        "512",
        "--depth",
        "2",
        "--m",
        "4",
        "--n-train",
        "8",
        "--n-test",
        "8",
        "--train-steps",
        "60",
        "--out",
        out,
        "--quiet",
    )
    assert r.exit_code == 0, r.output
    d = read_report(out)["dynamics"]
    assert d["max_rel_gap_train"] < 0.05 and d["max_rel_gap_test"] < 0.05
    assert d["train_mse_network"] < 0.2 * d["train_mse_curve_network"][0]
    assert "sum" in d["loss_convention"]
    for row in d["eigen_rates"][:3]:  # fast directions: measured decay ~ predicted
        if row["measured_network"] is not None and row["rate_discrete"] is not None:
            assert row["measured_network"] == pytest.approx(row["rate_discrete"], rel=0.3)


def test_sweep_tiny(runner, tmp_path: Path) -> None:
    out = tmp_path / "s"
    r = invoke(
        runner,
        "ntk",
        *TINY,
        "--sweep-p",
        "0,1,inf",
        "--signals",
        "2",
        "--set",
        "train.sweep_steps=20",
        "--out",
        out,
        "--json",
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["sweep"]
    assert [row["value"] for row in rows] == [0.0, 1.0, "Infinity"]
    for row in rows:
        assert row["test_mse_ntk"] > 0 and row["test_mse_network"] > 0
        assert row["test_mse_ntk_std"] >= 0 and row["test_mse_network_std"] >= 0
    assert (out / "sweep.png").is_file()
    assert float(read_report(out)["sweep"][2]["value"]) == math.inf


def test_task_file(runner, tmp_path: Path) -> None:
    x = np.linspace(0, 1, 20, endpoint=False)
    path = tmp_path / "t.npz"
    np.savez(
        path, x_train=x[::2], y_train=np.sin(6 * x[::2]), x_test=x[1::2], y_test=np.sin(6 * x[1::2])
    )
    r = invoke(
        runner,
        "ntk",
        "--task",
        path,
        "--width",
        "8",
        "--depth",
        "2",
        "--m",
        "2",
        "--out",
        tmp_path / "f",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["task"]["n_train"] == 10


def _bad_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.npz"
    x = np.linspace(0, 1, 6)
    if kind == "nan":
        np.savez(path, x_train=x, y_train=np.array([0, 1, np.nan, 0, 1, 0.0]))
    else:
        np.savez(path, x_train=x, y_train=np.ones(5))
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["--encoding", "fourier"],
        ["--p", "-1"],
        ["--depth", "0"],
        ["--width", "0"],
        ["--n-train", "1"],
        ["--kernel", "analytic", "--activation", "tanh"],
        ["--kernel", "analytic", "--parameterization", "standard"],
        ["--sweep-p", "0,-1"],
        ["--sweep-p", "0,x"],
        ["--sweep-p", "1,,2"],  # an empty item was dropped
        ["--sweep-scale", "1,10"],
        ["--task", "missing.npz"],
        ["--n-test", "999"],
        ["--device", "cuda:7"],
        # sizes that were exit 3 or an out-of-memory kill after the run directory was made
        ["--w-std", "0"],
        ["--depth", "100000"],
        ["--width", "100000000"],
        ["--m", "100000000"],
        ["--n-train", "100000000"],
    ],
)
def test_bad_inputs(runner, tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "bad"
    assert_one_line_error(invoke(runner, "ntk", *args, "--out", out), 2)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["nan", "shape"])
def test_bad_task_files(runner, tmp_path: Path, kind: str) -> None:
    r = invoke(runner, "ntk", "--task", _bad_file(tmp_path, kind), "--out", tmp_path / "o")
    assert_one_line_error(r, 2)
    assert ("non-finite" if kind == "nan" else "shape") in r.stderr


def test_preset_validates_and_out_refused(runner, tmp_path: Path) -> None:
    from spectral_cli.core.config import presets_dir, read_yaml
    from spectral_cli.ntk.config import NTKRunConfig

    NTKRunConfig.model_validate(read_yaml(presets_dir() / "ntk-toy.yaml"))
    out = tmp_path / "o"
    out.mkdir()
    (out / "x").write_text("keep")
    assert_one_line_error(invoke(runner, "ntk", *TINY, "--out", out), 2)


def test_diverging_gradient_descent_names_no_deleted_checkpoint(runner, tmp_path: Path) -> None:
    out = tmp_path / "nan"
    result = invoke(
        runner,
        "ntk",
        "--kernel",
        "empirical",
        "--n-train",
        "8",
        "--width",
        "16",
        "--train-steps",
        "400",
        "--lr",
        "1e8",
        "--out",
        out,
        "-q",
    )
    assert_one_line_error(result, 3)
    assert "diverged" in result.stderr and "spectral-ntk-gd-" not in result.stderr
    assert "checkpoint" not in result.stderr
