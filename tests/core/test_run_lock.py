"""One writer per run directory: an exclusive lock, refused at once, never blocked by the dead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spectral_cli.core.errors import BadInput
from spectral_cli.core.runs import (
    LOCK_FILE,
    RunDir,
    release_run_locks,
)

HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from spectral_cli.core.runs import RunDir\n"
    "RunDir.open(Path(sys.argv[1]), 'train', 'x', overwrite=True)\n"
    "print('locked', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture(autouse=True)
def _release() -> None:
    yield
    release_run_locks()


def hold_lock(run_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    holder = hold_lock(run_dir)
    try:
        started = time.perf_counter()
        held = f"in use by another spectral process \\(pid {holder.pid}\\)"
        with pytest.raises(BadInput, match=held):
            RunDir.open(run_dir, "train", "x", overwrite=True)
        assert time.perf_counter() - started < 1.0  # refused at once, not after waiting
        assert (run_dir / LOCK_FILE).is_file()  # the holder's lock file is left alone
    finally:
        holder.kill()
        holder.wait()
    # the dead holder's lock file remains, but the OS dropped its lock: it never blocks
    assert (run_dir / LOCK_FILE).is_file()
    assert RunDir.open(run_dir, "train", "x", overwrite=True).path == run_dir


def test_a_refused_new_directory_is_not_left_behind(tmp_path: Path) -> None:
    run_dir = tmp_path / "fresh"
    (tmp_path / "fresh").mkdir()
    (run_dir / "report.json").write_text("{}")
    with pytest.raises(BadInput, match="not empty"):
        RunDir.open(run_dir, "train", "x")
    assert (run_dir / "report.json").is_file()  # an existing directory keeps its files
    new = tmp_path / "new"
    with pytest.raises(BadInput, match="nothing to resume"):
        RunDir.open(new, "train", "x", resume=True)
    assert not new.exists()
    made = RunDir.open(tmp_path / "made", "train", "x")
    assert made.created
    made.discard_if_unused()
    assert not made.path.exists()


def test_leftover_temporaries_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "state.safetensors").write_bytes(b"x")
    (run_dir / ".model.safetensors.abc123.tmp").write_bytes(b"torn")
    (run_dir / "models").mkdir()
    (run_dir / "models" / ".sae.safetensors.x.tmp").write_bytes(b"torn")
    RunDir.open(run_dir, "train", "x", resume=True)
    assert not list(run_dir.rglob("*.tmp")) and (run_dir / "state.safetensors").is_file()


def test_an_unwritable_out_is_bad_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BadInput, match="cannot be created"):
        RunDir.open(blocker / "run", "train", "x")
    if os.geteuid() != 0:  # root writes anywhere; the permission case needs a normal user
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        with pytest.raises(BadInput, match="cannot be created|not writable"):
            RunDir.open(ro / "run", "train", "x")


def test_two_train_processes_on_one_directory(tmp_path: Path) -> None:
    """Started together, exactly one trains; the other exits 2 at once naming the holder."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "spectral_cli",
        "train",
        "hpe",
        "--set",
        "train.epochs=3",
        "--set",
        "data.limit=300",
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    (loser,) = [err for code, _, err in results if code == 2]
    assert "in use by another spectral process (pid" in loser and len(loser.splitlines()) == 1
    assert (out / "report.json").is_file()


def test_sigkill_leaves_a_resumable_directory(tmp_path: Path) -> None:
    """kill -9 mid-run: the next --resume takes the lock (the dead process's is gone)."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "spectral_cli",
        "train",
        "hpe",
        "--set",
        "train.epochs=50",
        "--set",
        "data.limit=300",
        "--out",
        str(out),
        "--device",
        "cpu",
        "-q",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "state.safetensors").is_file() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert (out / "state.safetensors").is_file() and not (out / "report.json").exists()
    # neither blocked by the dead process's lock nor refused
    assert RunDir.open(out, "train", "hpe", resume=True).path == out
