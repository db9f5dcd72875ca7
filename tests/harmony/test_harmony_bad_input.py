"""``spectral harmony-score`` on hostile input: exit 2, one line, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, invoke
from safetensors import safe_open
from safetensors.torch import save_file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests deeper"),
        ('["\\"", ' + "[" * 100_000 + "]" * 100_000 + "]", "nests deeper"),  # escaped quote
        ("[" * 65 + "1" + "]" * 65, "nests deeper"),  # under the recursion limit
        ("[[" + "9" * 400 + ", 1]]", "digits"),
        ("[[1e400, 1]]", "non-finite"),
        ('[[1, "a"]]', "not a number"),
    ],
)
def test_hostile_vectors_json(runner, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(text)
    out = tmp_path / "out"
    result = invoke(runner, "harmony-score", "--vectors", path, "--out", out)
    assert_one_line_error(result, 2)
    assert message in result.stderr and not out.exists()


def test_complex_vectors_are_refused(runner, tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.ones((3, 8), dtype=np.complex128))
    result = invoke(runner, "harmony-score", "--vectors", tmp_path / "v.npy")
    assert_one_line_error(result, 2)


@pytest.fixture
def hae_checkpoint(trained_run) -> Path:
    """The shared hae smoke run's checkpoint (read only)."""
    return trained_run("hae").out / "model.safetensors"


def test_int64_weights_are_refused_not_truncated(
    runner, tmp_path: Path, hae_checkpoint: Path
) -> None:
    with safe_open(str(hae_checkpoint), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    tensors["encoder.0.weight"] = (tensors["encoder.0.weight"] * 100).to(torch.int64)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    out = tmp_path / "out"
    result = invoke(runner, "harmony-score", "--checkpoint", bad, "--out", out)
    assert_one_line_error(result, 2)
    assert "'encoder.0.weight' is int64" in result.stderr and not out.exists()


def test_complex_signals_and_huge_labels_are_refused(
    runner, tmp_path: Path, hae_checkpoint: Path
) -> None:
    x = np.ones((5, 40), dtype=np.complex64)
    np.savez(tmp_path / "c.npz", x=x)
    np.savez(tmp_path / "y.npz", x=np.ones((5, 40)), y=np.full(5, 10**12))
    np.savez(tmp_path / "h.npz", x=np.full((5, 40), 1e300))  # finite, beyond float32
    for name, message in (
        ("c.npz", "complex"),
        ("y.npz", "class labels"),
        ("h.npz", "float32's range"),
    ):
        out = tmp_path / name.replace(".", "_")
        result = invoke(
            runner,
            "harmony-score",
            "--checkpoint",
            hae_checkpoint,
            "--data",
            tmp_path / name,
            "--out",
            out,
        )
        assert_one_line_error(result, 2)
        assert message in result.stderr and not out.exists()


def test_a_foreign_checkpoint_writes_nothing(runner, tmp_path: Path) -> None:
    other = tmp_path / "w.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"spectral.family": "hpe"})
    out = tmp_path / "out"
    result = invoke(runner, "harmony-score", "--checkpoint", other, "--out", out)
    assert_one_line_error(result, 2)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_cuda_is_refused_for_vectors_too(runner, tmp_path: Path) -> None:
    """``--device cuda`` without CUDA was exit 2 for --checkpoint but silently ran on the CPU
    (exit 0) for --vectors."""
    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=(4, 8)))
    result = invoke(
        runner,
        "harmony-score",
        "--vectors",
        tmp_path / "z.npy",
        "--device",
        "cuda",
        "--out",
        tmp_path / "hs",
    )
    assert_one_line_error(result, 2)
    assert "cuda" in result.stderr.lower() and not (tmp_path / "hs").exists()
