"""export and predict read a run directory under a shared lock: a training in progress (the
exclusive lock) is refused instead of read while its checkpoints change."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, copy_run, invoke

from spectral_cli.core.registry import family_names
from spectral_cli.core.runs import LOCK_FILE


@pytest.mark.parametrize("command", ["export", "predict"])
def test_a_run_locked_by_a_training_is_refused(
    runner, tmp_path: Path, trained_run, command: str
) -> None:
    run = copy_run(trained_run(family_names()[0]), tmp_path / "run")
    np.save(tmp_path / "x.npy", np.zeros((2, 3), dtype=np.float32))
    args = {
        "export": ["--format", "safetensors", "--out", tmp_path / "half.safetensors"],
        "predict": ["--input", tmp_path / "x.npy", "--out", tmp_path / "p.npz"],
    }[command]
    fd = os.open(run / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a training holds
        os.pwrite(fd, b"4242\n", 0)
        for source in (run, run / "model.safetensors"):
            result = invoke(runner, command, source, *args)
            assert_one_line_error(result, 2)
            assert "in use by a spectral process (pid 4242)" in result.stderr
    finally:
        os.close(fd)
    assert not (tmp_path / "half.safetensors").exists() and not (tmp_path / "p.npz").exists()
    if command == "export":  # unlocked: exported
        assert invoke(runner, command, run, *args).exit_code == 0
