"""Bad input is exit 2, never 3: hostile data files and tampered state files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, copy_run, invoke
from safetensors import safe_open
from safetensors.torch import save_file

from spectral_cli.core.arrays import parse_json
from spectral_cli.core.errors import BadInput


def npz(path: Path, **override: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.standard_normal((60, 12)).astype(np.float32),
        "y": rng.integers(0, 3, 60),
        "x_test": rng.standard_normal((20, 12)).astype(np.float32),
        "y_test": rng.integers(0, 3, 20),
    }
    arrays.update(override)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"y": np.full(60, 10**9)}, "class labels must be 0 .. 99999"),
        ({"y": np.full(60, np.iinfo(np.uint64).max, dtype=np.uint64)}, "class labels must be"),
        ({"x": np.ones((60, 12), dtype=np.complex64)}, "complex"),
        ({"x_test": np.full((20, 12), np.inf)}, "non-finite"),
        ({"y": np.ones(60, dtype=bool)}, "integer class labels"),
    ],
)
def test_hostile_npz_is_exit_2(runner, tmp_path: Path, override: dict, message: str) -> None:
    path = npz(tmp_path / "d.npz", **override)
    for family in ("hpe", "hmlp", "hae"):
        result = invoke(
            runner, "train", family, "--set", f"data.path={path}", "--out", tmp_path / family
        )
        assert_one_line_error(result, 2)
        assert message in result.stderr, result.stderr
        assert not (tmp_path / family).exists()  # refused before the run directory exists


def test_json_that_would_crash_the_parser_is_bad_input() -> None:
    with pytest.raises(BadInput, match="nests deeper than 64"):
        parse_json("[" * 100_000 + "]" * 100_000, "v.json")
    with pytest.raises(BadInput, match="400 digits"):
        parse_json("[[" + "9" * 400 + "]]", "v.json")


@pytest.fixture
def interrupted_run(trained_run, tmp_path: Path) -> Path:
    """A private copy of the shared standard smoke run (TINY): its state gets tampered with."""
    return copy_run(trained_run("standard"), tmp_path / "run")


def rewrite_state(path: Path, loop: dict | None = None, **tensors: torch.Tensor) -> None:
    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
        data = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    if loop is not None:
        meta["spectral.loop"] = json.dumps({**json.loads(meta["spectral.loop"]), **loop})
    data.update(tensors)
    save_file(data, str(path), metadata=meta)


@pytest.mark.parametrize(
    "loop",
    [{"epoch": "2"}, {"epoch": -100}, {"step": 10**9}, {"epoch": 10**9}, {"best_epoch": 7}],
)
def test_a_tampered_loop_position_is_refused(runner, interrupted_run: Path, loop: dict) -> None:
    rewrite_state(interrupted_run / "state.safetensors", loop)
    result = invoke(
        runner, "train", "standard", "--resume", "--out", interrupted_run, "--set", "train.epochs=3"
    )
    assert_one_line_error(result, 2)
    assert "does not match this model" in result.stderr


def test_state_tensors_of_the_wrong_dtype_are_refused(runner, interrupted_run: Path) -> None:
    path = interrupted_run / "state.safetensors"
    with safe_open(str(path), framework="pt") as fh:
        w = fh.get_tensor("model.head.weight")
    rewrite_state(path, **{"model.head.weight": w.to(torch.int64)})
    result = invoke(
        runner, "train", "standard", "--resume", "--out", interrupted_run, "--set", "train.epochs=3"
    )
    assert_one_line_error(result, 2)
    assert "'head.weight' is int64" in result.stderr
