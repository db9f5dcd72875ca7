"""Plain helpers for the tests (imported as ``from helpers import ...``; fixtures that use them
live in ``conftest.py``): CLI invocation, error-shape checks, run-directory snapshots, the list
of subcommands read from the app, and the once-per-session smoke run of a family."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spectral_cli.cli.main import app

TINY = ["--set", "train.epochs=2", "--set", "data.limit=200", "--set", "train.batch_size=64"]


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(app, [str(a) for a in args])


def subcommand_names() -> list[str]:
    """Every subcommand the app registers, read from the app (never a hand-kept list)."""
    import typer

    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def assert_help_imports_none(*argvs: list[str], modules: tuple[str, ...] = ("torch",)) -> None:
    """In a fresh interpreter, ``spectral ARGV`` for each argv exits 0 and leaves ``modules``
    unimported (``--help`` must stay fast)."""
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


def assert_one_line_error(result, code: int = 2) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output


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


SMOKE_SEED = 0


@dataclass(frozen=True)
class TrainedRun:
    """A finished ``spectral train FAMILY <smoke> --seed 0 --out DIR --quiet`` (through the CLI):
    what it printed, and its run directory. Shared by every test in a session: read it, or
    :func:`copy_run` it before changing anything."""

    family: str
    out: Path
    stdout: str
    stderr: str

    @property
    def args(self) -> list[str]:
        return smoke_args(self.family)


def smoke_args(family: str) -> list[str]:
    """``train FAMILY`` with the family's registered smoke settings and the shared seed."""
    from spectral_cli.core.registry import get_family

    sets = [a for item in get_family(family).smoke for a in ("--set", item)]
    return ["train", family, *sets, "--seed", str(SMOKE_SEED)]


def train_smoke(family: str, out: Path) -> TrainedRun:
    """Train ``family``'s smoke run into ``out`` on the CPU with one torch thread."""
    import torch

    torch.set_num_threads(1)
    logger = ["--logger", "tensorboard"] if importlib.util.find_spec("tensorboard") else []
    args = [*smoke_args(family), "--device", "cpu", "--out", out, "--quiet", *logger]
    result = invoke(CliRunner(), *args)
    assert result.exit_code == 0, (family, result.output)
    return TrainedRun(family, out, result.stdout, result.stderr)


_SMOKE: dict[str, TrainedRun] = {}


def smoke_run(family: str, factory: pytest.TempPathFactory) -> TrainedRun:
    """``family``'s smoke run, trained once per test process on first use and shared by every
    test that asks (the ``trained_run`` fixture, the export tests): read it, or
    :func:`copy_run` it before changing anything."""
    if family not in _SMOKE:
        _SMOKE[family] = train_smoke(family, factory.mktemp(f"smoke-{family}") / "run")
    return _SMOKE[family]


def copy_run(run: TrainedRun | Path, dest: Path) -> Path:
    """A private copy of a shared run directory, for a test that modifies it."""
    src = run.out if isinstance(run, TrainedRun) else run
    shutil.copytree(src, dest)
    return dest


def declared_in_options(name: str) -> set[str]:
    """The parameters of command ``name`` whose type is one of the ``Annotated`` options of
    ``cli/options.py`` (the same object, not a copy)."""
    from typing import Annotated, get_origin, get_type_hints

    from spectral_cli.cli import options
    from spectral_cli.cli.main import app

    declared = {id(value) for value in vars(options).values() if get_origin(value) is Annotated}
    [info] = [c for c in app.registered_commands if c.name == name]
    hints = get_type_hints(info.callback, include_extras=True)
    return {param for param, hint in hints.items() if id(hint) in declared}
