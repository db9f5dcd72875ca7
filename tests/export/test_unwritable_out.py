"""Outputs that cannot be written are exit 2 before any work, and nothing on disk changes:
a read-only run directory under ``train --overwrite`` (which used to delete its report first
and then fail with exit 3), read-only or uncreatable folders for export and predict, and
``predict --out`` naming its own ``--input``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, assert_one_line_error, invoke, snapshot
from export_support import smoke_runs

from spectral_cli.core.datasets.mnist1d import load_mnist1d

DROP = "-dac_override,-dac_read_search,-fowner"  # what lets root write anywhere


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def unprivileged(*args: object) -> subprocess.CompletedProcess[str]:
    """``spectral ARGS`` in a process that permission bits bind (root drops the capabilities
    that override them; skipped where that is not allowed)."""
    cmd = [sys.executable, "-m", "spectral_cli", *map(str, args)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, f"--bounding-set={DROP}", f"--inh-caps={DROP}", "--"]
        if setpriv is None or subprocess.run([*prefix, "true"]).returncode != 0:
            pytest.skip("running as root without setpriv: permission bits do not bind")
        cmd = [*prefix, *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_read_only_places_are_refused_before_any_work(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["standard"], run)
    locked = tmp_path / "locked"
    locked.mkdir()
    before = snapshot(run)
    run.chmod(0o555)
    locked.chmod(0o555)
    try:
        line = one_error_line(
            unprivileged("train", "standard", *TINY, "--out", run, "--overwrite", "-q")
        )
        assert "not writable" in line
        one_error_line(unprivileged("train", "standard", *TINY, "--out", run, "--resume", "-q"))
        line = one_error_line(
            unprivileged(
                "export", run, "--format", "safetensors", "--out", locked / "m.safetensors"
            )
        )
        assert "not writable" in line
    finally:
        run.chmod(0o755)
        locked.chmod(0o755)
    assert snapshot(run) == before and list(locked.iterdir()) == []


def test_uncreatable_and_self_overwriting_outputs(
    runner, runs: dict[str, Path], tmp_path: Path
) -> None:
    arrays = load_mnist1d()
    data = tmp_path / "in.npz"
    np.savez(data, x=arrays["x_test"][:20], y=arrays["y_test"][:20])
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder")
    kept = data.read_bytes()
    for args in (
        ["predict", runs["standard"], "--input", data, "--out", a_file / "p.npz"],
        ["export", runs["standard"], "--format", "safetensors", "--out", a_file / "m.safetensors"],
        ["predict", runs["standard"], "--input", data, "--out", data, "--overwrite"],
    ):
        result = invoke(runner, *args)
        assert_one_line_error(result, 2)
    assert data.read_bytes() == kept and a_file.read_text() == "not a folder"
