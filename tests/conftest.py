"""Shared fixtures: the CLI runner, small real data files, and a tiny-run helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, get_origin, get_type_hints

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from spectral_cli.cli import options
from spectral_cli.cli.main import app

TINY = ["--set", "train.epochs=2", "--set", "data.limit=200", "--set", "train.batch_size=64"]


@pytest.fixture(autouse=True)
def _single_thread() -> None:
    """Tests run on 2 shared cores; one intra-op thread keeps them fast and results stable."""
    torch.set_num_threads(1)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_help_imports_none(*argvs: list[str], modules: tuple[str, ...] = ("torch",)) -> None:
    """In a fresh interpreter, ``spectral ARGV`` for each argv exits 0 and leaves ``modules``
    unimported (``--help`` must stay fast)."""
    import subprocess
    import sys

    lines = ["import sys", "from spectral_cli.cli.main import app"]
    for argv in argvs:
        lines += [
            "try:",
            f"    app({argv!r})",
            "except SystemExit as e:",
            f"    assert e.code == 0, ({argv!r}, e.code)",
        ]
    lines += [f"assert {m!r} not in sys.modules, '{m} imported by --help'" for m in modules]
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def declared_in_options(name: str) -> set[str]:
    """The parameters of command ``name`` whose type is one of the ``Annotated`` options of
    ``cli/options.py`` (the same object, not a copy)."""
    declared = {id(value) for value in vars(options).values() if get_origin(value) is Annotated}
    [info] = [c for c in app.registered_commands if c.name == name]
    hints = get_type_hints(info.callback, include_extras=True)
    return {param for param, hint in hints.items() if id(hint) in declared}


def assert_one_line_error(result, code: int = 2) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def npz_data(tmp_path: Path) -> Path:
    """A small user dataset: 3 classes of noisy sines, length 24."""
    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, n)
        t = np.linspace(0, 1, 24)
        x = np.sin(2 * np.pi * (y[:, None] + 1) * t) + 0.1 * rng.standard_normal((n, 24))
        return x.astype(np.float32), y

    x, y = make(120)
    xt, yt = make(40)
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y, x_test=xt, y_test=yt)
    return path


class StopAfter:
    """Observer requesting a stop after ``n`` optimizer steps, like a SIGTERM arriving then
    (counted over every model a run trains)."""

    def __init__(self, flag, n: int) -> None:
        self.flag, self.n, self.steps = flag, n, 0

    def log(self, message: str) -> None:
        pass

    def on_step(self, epoch: int, step: int, steps: int) -> None:
        self.steps += 1
        if self.steps == self.n:
            self.flag.request("SIGTERM")

    def on_epoch(self, record: dict[str, float], improved: bool) -> None:
        pass


def read_report(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> bytes): compare before and after a
    command that must leave it untouched."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
