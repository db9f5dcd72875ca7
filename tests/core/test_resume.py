"""Interrupt + ``--resume`` ends with exactly the weights of an uninterrupted run (CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import StopAfter, assert_one_line_error, invoke, read_report
from safetensors.torch import load_file

from spectral_cli.core.errors import Interrupted
from spectral_cli.core.pipeline import run_experiment
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.core.signals import StopFlag

SETS = ["train.epochs=3", "data.limit=300", "train.batch_size=64"]  # 270 train -> 5 steps/epoch


def weights(run_dir: Path, name: str = "model.safetensors") -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / name))


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("stop_after", [3, 5, 12])  # mid-epoch, epoch boundary, last epoch
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path: Path, stop_after: int) -> None:
    cfg = resolve_train_config("hpe", None, SETS, seed=7)
    device = torch.device("cpu")
    run_experiment(cfg, tmp_path / "full", device)

    run = tmp_path / "cut"
    run.mkdir()
    flag = StopFlag()
    with pytest.raises(Interrupted, match="SIGTERM"):
        run_experiment(cfg, run, device, observer=StopAfter(flag, stop_after), stop=flag)
    report = run_experiment(cfg, run, device, resume=True)
    assert report.resumed
    assert_same(weights(tmp_path / "full"), weights(run))
    full_state, cut_state = (
        weights(tmp_path / "full", "state.safetensors"),
        weights(run, "state.safetensors"),
    )
    assert_same(
        {k: v for k, v in full_state.items() if k.startswith(("model.", "optim."))},
        {k: v for k, v in cut_state.items() if k.startswith(("model.", "optim."))},
    )
    full_report = read_report(tmp_path / "full")
    assert report.metrics["test_acc"] == full_report["metrics"]["test_acc"]
    assert [h["val_acc"] for h in report.history] == [h["val_acc"] for h in full_report["history"]]


def test_resume_may_extend_epochs(tmp_path: Path, runner) -> None:
    base = [a for s in SETS for a in ("--set", s)]
    assert (
        invoke(
            runner, "train", "hpe", *base, "--seed", "1", "--out", tmp_path / "a", "-q"
        ).exit_code
        == 0
    )
    more = ["--set", "train.epochs=4"]
    result = invoke(runner, "train", "hpe", *more, "--out", tmp_path / "a", "--resume", "-q")
    assert result.exit_code == 0, result.output
    base[1] = "train.epochs=4"
    assert (
        invoke(
            runner, "train", "hpe", *base, "--seed", "1", "--out", tmp_path / "b", "-q"
        ).exit_code
        == 0
    )
    assert_same(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert len(read_report(tmp_path / "a")["history"]) == 4


def test_sigterm_in_a_real_process_exits_130_and_resumes_exactly(tmp_path: Path, runner) -> None:
    """The one real subprocess: the installed entry point, a real SIGTERM mid-training."""
    sets = ["--set", "train.epochs=8", "--set", "data.limit=300", "--set", "train.batch_size=64"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spectral_cli",
            "train",
            "hpe",
            *sets,
            "--seed",
            "2",
            "--out",
            str(cut),
            "--verbose",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # wait until training is under way
        if line.startswith("epoch 1:") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and (cut / "state.safetensors").is_file()

    torch.set_num_threads(1)
    result = invoke(runner, "train", "hpe", "--out", cut, "--resume", "-q")
    assert result.exit_code == 0, result.output
    full = tmp_path / "full"
    assert invoke(runner, "train", "hpe", *sets, "--seed", "2", "--out", full, "-q").exit_code == 0
    assert_same(weights(full), weights(cut))
    assert read_report(cut)["resumed"] is True


def test_resume_refuses_a_corrupt_state(tmp_path: Path, runner) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.safetensors").write_bytes(b"\x01" * 100)
    result = invoke(runner, "train", "hpe", "--out", run, "--resume", "-q")
    assert_one_line_error(result, 2)


def snapshot_files(run_dir: Path) -> dict[str, bytes]:
    """The run's files (not the lock a command takes, which records the pid)."""
    return {
        p.name: p.read_bytes()
        for p in run_dir.rglob("*")
        if p.is_file() and p.name != ".spectral.lock"
    }


@pytest.mark.parametrize("finished", [True, False])
def test_resume_refuses_fewer_epochs_than_ran(tmp_path: Path, runner, finished: bool) -> None:
    """A finished 3-epoch run, or one stopped after 2 of 3 epochs, resumed with epochs=1: exit 2
    and every file as it was (config.yaml and the state would otherwise say 1)."""
    run = tmp_path / "r"
    cfg = resolve_train_config("hpe", None, SETS)
    if finished:
        run_experiment(cfg, run, torch.device("cpu"))
    else:
        stop = StopFlag()
        with pytest.raises(Interrupted):
            run_experiment(cfg, run, torch.device("cpu"), observer=StopAfter(stop, 12), stop=stop)
    before = snapshot_files(run)
    result = invoke(
        runner, "train", "hpe", "--set", "train.epochs=1", "--out", run, "--resume", "-q"
    )
    assert_one_line_error(result, 2)
    assert "already ran" in result.stderr and "train.epochs" in result.stderr
    assert snapshot_files(run) == before


def test_the_world_size_is_recorded_and_a_change_refused(tmp_path: Path, runner) -> None:
    from spectral_cli.core.errors import BadInput
    from spectral_cli.core.provenance import saved_world
    from spectral_cli.core.resolve import check_world

    run = tmp_path / "r"
    base = [a for s in SETS for a in ("--set", s)]
    assert invoke(runner, "train", "hpe", *base, "--out", run, "-q").exit_code == 0
    more = ["--set", "train.epochs=4"]
    assert invoke(runner, "train", "hpe", *more, "--out", run, "--resume", "-q").exit_code == 0
    assert read_report(run)["resumes"][-1]["world_size"] == 1
    assert saved_world(run / "state.safetensors") == 1
    check_world(run, 1, allow=False)  # same world: fine
    with pytest.raises(BadInput, match="--allow-world-change"):
        check_world(run, 2, allow=False)
    check_world(run, 3, allow=True)
