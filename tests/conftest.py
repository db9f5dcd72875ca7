"""Shared fixtures: the CLI runner, small real data files, and the once-per-session smoke run of
every registered family. Plain helpers live in ``helpers.py`` (import them from there); the
names below are re-exported for test files that still import them from here."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import (  # noqa: F401 - re-exported for ``from conftest import ...``
    TINY,
    StopAfter,
    TrainedRun,
    assert_help_imports_none,
    assert_one_line_error,
    invoke,
    read_report,
    smoke_run,
    snapshot,
    train_smoke,
)
from typer.testing import CliRunner


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (the README's command): one worker per CPU plus one. Many tests wait on
    other processes (torchrun ranks, tune workers, signal tests polling for a file) while their
    worker holds no core; the extra worker can use it."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(autouse=True)
def _single_thread() -> None:
    """Tests run on 2 shared cores; one intra-op thread keeps them fast and results stable."""
    torch.set_num_threads(1)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], TrainedRun]:
    """``trained_run(family)``: the family's smoke run (registry ``smoke`` settings, seed 0,
    CPU, one thread), trained once per session through the CLI on first use and shared. Tests
    only read it; a test that changes a run copies it first (``helpers.copy_run``)."""
    return lambda family: smoke_run(family, tmp_path_factory)


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
