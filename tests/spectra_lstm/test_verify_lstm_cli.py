"""``spectral verify-lstm`` (issue 7): contract on saved weights, exit codes 0/1/2, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, invoke, read_report
from safetensors import safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file

from spectral_cli.core.checkpoint import model_metadata, save_tensors

CKPT = "spectra_lstm.safetensors"


def contract_cell(sd: dict[str, torch.Tensor], x: np.ndarray) -> np.ndarray:
    """The issue's cell, written out independently of the package: y_t for every step."""
    w_ih, w_hh = sd["cell.weight_ih"], sd["cell.weight_hh"]
    b = sd["cell.bias_ih"] + sd["cell.bias_hh"]
    h = c = torch.zeros(w_hh.shape[1], dtype=w_hh.dtype)
    ys = []
    for xt in torch.as_tensor(x, dtype=w_hh.dtype):
        i, f, g, o = (w_ih[:, 0] * xt + w_hh @ h + b).chunk(4)
        c = torch.sigmoid(f) * c + torch.tanh(i) * torch.tanh(g)  # i = tanh, not sigmoid
        h = torch.sigmoid(o) * torch.tanh(c)
        ys.append(sd["readout.weight"] @ h + sd["readout.bias"])
    return torch.stack(ys).double().numpy()


def metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata())


def verify(runner, out: Path, *args: str):
    return invoke(runner, "verify-lstm", "--out", out, "-q", *args)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_saved_weights_obey_the_cell_contract(
    tmp_path: Path, runner, dtype: str, tol: float
) -> None:
    T = 6
    result = verify(runner, tmp_path / "run", "--window", str(T), "--dtype", dtype)
    assert result.exit_code == 0, result.output
    path = tmp_path / "run" / CKPT
    meta = metadata(path)
    assert meta["spectral.family"] == "spectra-lstm"
    cfg = json.loads(meta["spectral.config"])
    assert {"window", "hidden_size", "readout_delay", "dtype", "blocks"} <= set(cfg)
    assert cfg["window"] == T and cfg["dtype"] == dtype
    assert set(cfg["blocks"]) == {"gen", "sum", "prod", "spec"}
    sd = load_file(str(path))
    assert set(sd) == {
        "cell.weight_ih",
        "cell.weight_hh",
        "cell.bias_ih",
        "cell.bias_hh",
        "readout.weight",
        "readout.bias",
    }
    H = cfg["hidden_size"]
    assert sd["cell.weight_hh"].shape == (4 * H, H) and sd["readout.weight"].shape == (T, H)
    x = 3.0 * np.random.default_rng(1).standard_normal(7 * T)
    y = contract_cell(sd, x)
    est = y[T - 1 + cfg["readout_delay"] :: T]
    ref = np.abs(np.fft.fft(x.reshape(-1, T), axis=-1)) ** 2
    assert (np.abs(est - ref).max(axis=-1) / ref.max(axis=-1)).max() <= tol
    report = read_report(tmp_path / "run")
    assert report["passed"] and report["max_error"] <= tol and report["hidden_size"] == H
    for name in ("weight_hh.png", "spectrogram.png", "report.json"):
        assert (tmp_path / "run" / name).stat().st_size > 0


def test_every_small_window_passes_in_both_dtypes(tmp_path: Path, runner) -> None:
    for dtype in ("float64", "float32"):
        for T in range(2, 17):
            out = tmp_path / f"{dtype}-{T}"
            result = verify(
                runner,
                out,
                "--window",
                str(T),
                "--dtype",
                dtype,
                "--windows",
                "6",
                "--signal",
                "sines" if T % 2 else "random",
                "--no-plots",
                "--seed",
                str(T),
            )
            assert result.exit_code == 0, (T, dtype, result.output)
            assert read_report(out)["max_error"] <= (1e-12 if dtype == "float64" else 1e-5)


def test_perturbed_checkpoint_exits_1_naming_window_and_bin(tmp_path: Path, runner) -> None:
    assert verify(runner, tmp_path / "good", "--window", "8", "--no-plots").exit_code == 0
    path = tmp_path / "good" / CKPT
    sd, meta = load_file(str(path)), metadata(path)
    sd["readout.weight"] = sd["readout.weight"] * (1 + 1e-6)  # 1e-6 relative: far above 1e-12
    bad = tmp_path / "perturbed.safetensors"
    save_file(sd, str(bad), metadata=meta)
    result = verify(runner, tmp_path / "bad", "--checkpoint", bad, "--signal", "sines")
    assert_one_line_error(result, 1)
    report = read_report(tmp_path / "bad")
    assert not report["passed"] and 1e-7 < report["max_error"] < 1e-5
    assert f"window {report['worst_window']}, bin {report['worst_bin']}" in result.stderr
    # with a tolerance it meets, the same file passes
    assert verify(runner, tmp_path / "ok", "--checkpoint", bad, "--tol", "1e-5").exit_code == 0


def test_float32_checkpoint_in_float64_keeps_float32_accuracy(tmp_path: Path, runner) -> None:
    assert verify(runner, tmp_path / "f32", "--dtype", "float32", "--no-plots").exit_code == 0
    path = tmp_path / "f32" / CKPT
    result = invoke(
        runner,
        "verify-lstm",
        "--checkpoint",
        path,
        "--dtype",
        "float64",
        "--out",
        tmp_path / "in64",
        "--no-plots",
    )
    assert result.exit_code == 0, result.output
    assert "float32 accuracy" in result.stderr
    report = read_report(tmp_path / "in64")
    assert report["run_dtype"] == "float64" and report["built_dtype"] == "float32"
    assert report["tol"] == 1e-5 and "float32" in report["note"]
    assert 1e-12 < report["max_error"] <= 1e-5  # not float64 accuracy: rounded float32 weights
    # demanding float64's tolerance is a failed check (exit 1), not a silent pass
    strict = verify(
        runner,
        tmp_path / "strict",
        "--checkpoint",
        path,
        "--dtype",
        "float64",
        "--tol",
        "1e-12",
        "--no-plots",
    )
    assert_one_line_error(strict, 1)


def test_signal_files_and_json(tmp_path: Path, runner) -> None:
    x = np.random.default_rng(0).standard_normal(40) * 1e3
    np.savetxt(tmp_path / "col.csv", x[:, None], delimiter=",")
    np.savetxt(tmp_path / "row.csv", x[None, :], delimiter=",")
    np.save(tmp_path / "x.npy", x)
    save_numpy({"signal": x}, str(tmp_path / "x.safetensors"))
    for i, name in enumerate(["col.csv", "row.csv", "x.npy", "x.safetensors"]):
        result = verify(
            runner, tmp_path / f"r{i}", "--window", "5", "--signal", tmp_path / name, "--no-plots"
        )
        assert result.exit_code == 0, (name, result.output)
        report = read_report(tmp_path / f"r{i}")
        assert report["windows"] == 8 and report["signal"]["samples"] == 40
    result = invoke(
        runner,
        "verify-lstm",
        "--window",
        "4",
        "--windows",
        "3",
        "--json",
        "--no-plots",
        "--out",
        tmp_path / "j",
    )
    assert result.exit_code == 0
    parsed = json.loads(result.stdout)  # nothing but the report on stdout
    assert parsed["command"] == "verify-lstm" and parsed["windows"] == 3


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path, runner) -> None:
    np.save(tmp_path / "empty.npy", np.zeros(0))
    np.save(tmp_path / "matrix.npy", np.ones((4, 8)))
    np.save(tmp_path / "short.npy", np.ones(7))
    (tmp_path / "nan.csv").write_text("1.0\n2.0\nnan\n" + "1.0\n" * 10)
    (tmp_path / "text.csv").write_text("a,b\nc,d\n")
    (tmp_path / "sig.txt").write_text("1 2 3\n")
    (tmp_path / "garbage.safetensors").write_bytes(b"not a safetensors file")
    foreign = tmp_path / "hpe.safetensors"
    save_tensors(foreign, {"w": torch.ones(2)}, model_metadata("hpe", {}))
    cases = [
        ["--window", "1"],
        ["--window", "0"],
        ["--window", "-3"],
        ["--window", "2.5"],
        ["--window", "eight"],
        ["--dtype", "float16"],
        ["--windows", "0"],
        ["--tol", "-1"],
        ["--signal", tmp_path / "empty.npy"],
        ["--signal", tmp_path / "matrix.npy"],
        ["--signal", tmp_path / "short.npy"],
        ["--signal", tmp_path / "nan.csv"],
        ["--signal", tmp_path / "text.csv"],
        ["--signal", tmp_path / "sig.txt"],
        ["--signal", tmp_path / "missing.npy"],
        ["--signal", "noise"],
        ["--checkpoint", foreign],
        ["--checkpoint", tmp_path / "garbage.safetensors"],
        ["--checkpoint", tmp_path / "missing.safetensors"],
        ["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "tpu"],
    ]
    for i, args in enumerate(cases):
        out = tmp_path / f"out{i}"
        assert_one_line_error(invoke(runner, "verify-lstm", "--out", out, *args), 2)
        assert not out.exists(), args  # refused before anything is written


def test_checkpoint_window_mismatch_and_float64_in_float32(tmp_path: Path, runner) -> None:
    assert verify(runner, tmp_path / "a", "--window", "4", "--no-plots").exit_code == 0
    path = tmp_path / "a" / CKPT
    assert_one_line_error(verify(runner, tmp_path / "b", "--checkpoint", path, "--window", "5"), 2)
    # float64-built weights overflow float32 (readout ~1e166): refused, not run
    result = verify(runner, tmp_path / "c", "--checkpoint", path, "--dtype", "float32")
    assert_one_line_error(result, 2)
    assert "float32" in result.stderr


def test_real_process_exit_codes(tmp_path: Path) -> None:
    """The installed entry point once: exit 0 with --json on stdout, exit 2 for T < 2."""
    cmd = [
        sys.executable,
        "-m",
        "spectral_cli",
        "verify-lstm",
        "--window",
        "3",
        "--windows",
        "4",
        "--no-plots",
        "--json",
        "--out",
        str(tmp_path / "ok"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passed"] is True
    cmd = [sys.executable, "-m", "spectral_cli", "verify-lstm", "--window", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and not done.stdout
