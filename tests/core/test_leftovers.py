"""Nothing left behind: safetensors' own temporary files, and folders a refused write created."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import invoke

from spectral_cli.core.atomic import write_with
from spectral_cli.core.checkpoint import save_tensors
from spectral_cli.core.registry import family_names
from spectral_cli.core.runs import RunDir


def test_checkpoints_are_written_through_our_own_temporary_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """safetensors' save_file writes a ``.tmpXXXXXX`` of its own next to the target, which the
    ``.*.tmp`` cleanup did not match: a kill -9 during a checkpoint write left it for good."""
    import safetensors.torch

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("save_file writes its own temporary file")

    from spectral_cli.core import checkpoint

    monkeypatch.setattr(safetensors.torch, "save_file", refuse)
    monkeypatch.setattr(checkpoint, "save_file", refuse, raising=False)
    save_tensors(tmp_path / "m.safetensors", {"w": torch.ones(3)}, {"spectral.family": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    assert safetensors.torch.load_file(str(tmp_path / "m.safetensors"))["w"].tolist() == [1] * 3


def test_opening_a_run_removes_safetensors_leftovers(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    (run / ".tmpAb3dE9").write_bytes(b"partial")  # what safetensors leaves when killed
    (run / "models" / ".tmpZZ12yx").write_bytes(b"partial")
    (run / "model.safetensors").write_bytes(b"old")
    (run / ".tmpnotmine").write_bytes(b"")  # not the pattern (7 characters): kept
    RunDir.open(run, "train", "x", overwrite=True)
    left = sorted(p.name for p in run.rglob(".tmp*"))
    assert left == [".tmpnotmine"]


def test_refused_write_removes_the_folders_it_created(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "m.onnx"

    def fail(tmp: Path) -> None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        write_with(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_export_that_fails_parity_leaves_no_new_folder(runner, tmp_path: Path, trained_run) -> None:
    run = trained_run(family_names()[0]).out
    out = tmp_path / "new" / "dir" / "m.safetensors"
    result = invoke(runner, "export", run, "--format", "safetensors", "--tol", "0", "--out", out)
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "new").exists()


def test_written_files_get_the_users_file_mode(tmp_path: Path) -> None:
    """mkstemp creates 0600; every finished file has 0666 less the umask, like any file the
    user creates (checkpoints included, now written by spectral from safetensors' bytes)."""
    import os

    from spectral_cli.core.atomic import write_text_atomic

    mask = os.umask(0)
    os.umask(mask)
    save_tensors(tmp_path / "m.safetensors", {"w": torch.ones(2)}, {"spectral.family": "x"})
    write_text_atomic(tmp_path / "r.json", "{}")
    for name in ("m.safetensors", "r.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
