"""``spectral tune --workers``: a killed worker's trials still run; a worker failure is one line."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

FAMILY = "standard"
# a few seconds per trial on a loaded machine: long enough to kill a worker mid-trial
STEADY = ["--set", "train.epochs=6", "--set", "data.limit=400", "--set", "train.batch_size=32"]


def start(out: Path, trials: int) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "spectral_cli", "tune", FAMILY, "--trials", str(trials),
        "--workers", "2", "--final-seeds", "0", "--sampler", "random", "--pruner", "none",
        *STEADY, "--device", "cpu", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def running_worker(db: Path) -> int | None:
    """The pid of a worker with a RUNNING trial (read straight from the SQLite file)."""
    if not db.is_file():
        return None
    try:
        with sqlite3.connect(db, timeout=30) as con:
            row = con.execute(
                "SELECT a.value_json FROM trials t JOIN trial_user_attributes a "
                "ON a.trial_id = t.trial_id WHERE t.state = 'RUNNING' AND a.key = 'pid'"
            ).fetchone()
    except sqlite3.Error:  # tables not created yet
        return None
    return int(row[0]) if row else None


def wait_for(predicate, timeout: float = 180.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_killed_worker_is_replaced_and_every_trial_runs(tmp_path: Path) -> None:
    out = tmp_path / "t"
    proc = start(out, trials=4)
    try:
        victim = wait_for(lambda: running_worker(out / "optuna.db"))
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    study = optuna.load_study(study_name=f"spectral-{FAMILY}", storage=f"sqlite:///{out}/optuna.db")
    states = [t.state.name for t in study.trials]
    # the killed trial is FAIL (or the kill fell between two trials); the rest were run
    assert len(states) == 4 and states.count("COMPLETE") >= 3, states
    assert "RUNNING" not in states
    assert "note: worker" in err and "SIGKILL" in err and "starting it again" in err


@pytest.mark.slow
def test_the_storage_failing_under_workers_is_one_line(tmp_path: Path) -> None:
    """The database file turns to junk mid-study (what a lost disk or a stopped server looks
    like to a worker): one error line from the parent, exit 3, no worker tracebacks."""
    out = tmp_path / "t"
    proc = start(out, trials=6)
    try:
        db = out / "optuna.db"
        wait_for(lambda: running_worker(db))
        with db.open("r+b") as f:  # in place: the workers' open connections see it too
            f.write(b"\0junk" * 4096)
        _, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    lines = [line for line in err.splitlines() if not line.startswith("standard: trial")]
    assert proc.returncode == 3, err
    assert len(lines) == 1 and lines[0].startswith("error: the storage"), err
    assert "Traceback" not in err
