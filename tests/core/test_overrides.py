"""Left open last round: a --set replaced by an option is validated and noted; options that do
not apply are refused; a checkpoint of an unknown schema version is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_one_line_error, invoke
from safetensors.torch import load_file, save_file

from spectral_cli.core.registry import family_names


def test_a_set_under_an_option_is_validated(runner) -> None:
    """``ntk --width 8 --set model.width=abc`` passed: the flag replaced the bad value unseen."""
    result = invoke(runner, "ntk", "--width", "8", "--set", "model.width=abc", "--print-config")
    assert_one_line_error(result, 2)
    assert "--set model.width='abc' is invalid" in result.stderr


def test_a_set_under_an_option_is_noted(runner) -> None:
    family = family_names()[0]
    result = invoke(runner, "train", family, "--seed", "3", "--set", "seed=5", "--print-config")
    assert result.exit_code == 0, result.output
    assert "note: --set seed=5 is overridden by a later value (3" in result.stderr
    assert "seed: 3" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["ntk", "--encoding", "none", "--p", "2"],
        ["ntk", "--encoding", "toy", "--scale", "3"],
        ["harmony-score", "--vectors", "v.json", "--seed", "3"],
        ["harmony-score", "--vectors", "v.json", "--data", "x.npz"],
    ],
)
def test_options_that_do_not_apply_are_refused(runner, args: list[str]) -> None:
    result = invoke(runner, *args, "--print-config")
    assert_one_line_error(result, 2)
    assert "applies to" in result.stderr


def test_harmony_alpha_with_a_checkpoint_is_refused(runner, tmp_path: Path) -> None:
    result = invoke(
        runner, "harmony-score", "--checkpoint", tmp_path / "m.safetensors", "--alpha", "2"
    )
    assert_one_line_error(result, 2)
    assert "--alpha applies to --vectors" in result.stderr


@pytest.mark.parametrize("command", ["export", "predict"])
def test_unknown_checkpoint_schema_is_refused(
    runner, tmp_path: Path, trained_run, command: str
) -> None:
    from safetensors import safe_open

    src = trained_run(family_names()[0]).out / "model.safetensors"
    with safe_open(str(src), "pt") as fh:
        meta = dict(fh.metadata())
    meta["spectral.schema"] = "99"
    path = tmp_path / "m.safetensors"
    save_file(load_file(str(src)), str(path), metadata=meta)
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((2, 3), dtype=np.float32))
    args = {
        "export": ["--format", "onnx", "--out", tmp_path / "out.onnx"],
        "predict": ["--input", tmp_path / "x.npy", "--out", tmp_path / "p.npz"],
    }[command]
    result = invoke(runner, command, path, *args)
    assert_one_line_error(result, 2)
    assert "schema '99'" in result.stderr
