"""``SPECTRAL_DEBUG=1``: an error shows its traceback; without it, one ``error:`` line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import assert_one_line_error, invoke

from spectral_cli.cli import train as train_cli

BAD = ["train", "hpe", "--set", "model.k=0"]  # refused while resolving the config: no torch work


def spectral(args: list[str], debug: bool, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAL_DEBUG"}
    if debug:
        env["SPECTRAL_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "spectral_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_bad_input_in_a_real_process_with_and_without_debug(tmp_path: Path) -> None:
    plain = spectral(BAD, debug=False, cwd=tmp_path)
    assert plain.returncode == 2 and plain.stdout == ""
    (line,) = plain.stderr.strip().splitlines()
    assert line.startswith("error: invalid config value for 'model.k'") and "Traceback" not in line
    debug = spectral(BAD, debug=True, cwd=tmp_path)
    assert debug.returncode not in (0, 2), debug.returncode  # re-raised, not handled
    assert debug.stderr.startswith("Traceback (most recent call last):"), debug.stderr[:500]
    last = debug.stderr.strip().splitlines()[-1]
    assert last.startswith("spectral_cli.core.errors.BadInput: invalid config value for 'model.k'")
    assert 'File "' in debug.stderr and "config_errors" in debug.stderr  # the raising frames
    assert list(tmp_path.iterdir()) == []  # refused before anything was created


def test_an_unexpected_failure_with_and_without_debug(
    runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A failure that is not one of ours is exit 3, one line that points at SPECTRAL_DEBUG; with
    it set, the exception itself comes out."""

    def broken(*args, **kwargs):
        raise RuntimeError("boom inside resolve")

    monkeypatch.setattr(train_cli, "resolve", broken)
    monkeypatch.delenv("SPECTRAL_DEBUG", raising=False)
    args = ["train", "hpe", "--out", tmp_path / "run", "-q"]
    result = invoke(runner, *args)
    assert_one_line_error(result, 3)
    assert result.stderr.strip() == (
        "error: RuntimeError: boom inside resolve (run with SPECTRAL_DEBUG=1 for a traceback)"
    )
    monkeypatch.setenv("SPECTRAL_DEBUG", "0")  # only "1" switches it on
    assert_one_line_error(invoke(runner, *args), 3)
    monkeypatch.setenv("SPECTRAL_DEBUG", "1")
    result = invoke(runner, *args)
    assert isinstance(result.exception, RuntimeError) and "error:" not in result.stderr
    assert str(result.exception) == "boom inside resolve"
    assert result.exc_info is not None and result.exc_info[2] is not None  # with its traceback
