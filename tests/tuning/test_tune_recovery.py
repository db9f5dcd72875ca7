"""``spectral tune`` recovers exactly: kill -9, interrupted finals, partial resumes, workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import StopAfter, assert_one_line_error, invoke
from safetensors.torch import load_file

SMOKE = ["--set", "train.epochs=2", "--set", "data.limit=200", "--set", "train.batch_size=64"]
SLOW = ["--set", "train.epochs=6", "--set", "data.limit=600", "--set", "train.batch_size=32"]


def spectral(*args: str) -> list[str]:
    return [sys.executable, "-m", "spectral_cli", *map(str, args)]


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.parametrize("name", ["../../../x", "a/b", "..", "", "-x", "x" * 65, "a b"])
def test_unsafe_study_names_are_refused(runner, tmp_path: Path, name: str) -> None:
    result = invoke(runner, "tune", "hpe", "--study-name", name, "--out", tmp_path / "t")
    assert_one_line_error(result, 2)
    assert not (tmp_path / "t").exists() and list(tmp_path.iterdir()) == []


def test_kill_9_leaves_no_running_trial_after_resume(runner, tmp_path: Path) -> None:
    out = tmp_path / "t"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        spectral(
            "tune",
            "standard",
            "--trials",
            "3",
            "--final-seeds",
            "1",
            *SLOW,
            "--out",
            out,
            "--device",
            "cpu",
            "-q",
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trial = out / "trials" / "spectral-standard" / "trial-0000"
    wait_for(lambda: (trial / "state.safetensors").is_file())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = invoke(
        runner,
        "tune",
        "standard",
        "--resume",
        "--trials",
        "1",
        "--final-seeds",
        "1",
        *SLOW,
        "--out",
        out,
        "--json",
        "-q",
    )
    assert result.exit_code == 0, result.output
    trials = json.loads(result.stdout)["families"]["standard"]["trials"]
    assert "RUNNING" not in {t["state"] for t in trials}
    assert trials[0]["state"] == "FAIL" and trials[-1]["state"] == "COMPLETE"
    assert "RUNNING" not in (out / "comparison.md").read_text()


def test_resume_trials_0_finishes_an_interrupted_final_exactly(runner, tmp_path: Path) -> None:
    from spectral_cli.core.config import read_yaml
    from spectral_cli.core.errors import Interrupted
    from spectral_cli.core.pipeline import run_experiment
    from spectral_cli.core.resolve import resolve_train_config
    from spectral_cli.core.signals import StopFlag

    out = tmp_path / "t"
    args = [
        "tune",
        "standard",
        "--trials",
        "2",
        "--final-seeds",
        "2",
        "--pruner",
        "none",
        *SMOKE,
        "--out",
        out,
        "--json",
        "-q",
    ]
    first = invoke(runner, *args)
    assert first.exit_code == 0, first.output
    best = json.loads(first.stdout)["families"]["standard"]["best_params"]
    done, cut = out / "final" / "standard" / "seed-0", out / "final" / "standard" / "seed-1"
    reference = load_file(str(cut / "model.safetensors"))
    kept = (done / "report.json").stat().st_mtime_ns
    # cut seed 1 mid-run, as a SIGTERM during the final runs would
    cfg_data = read_yaml(cut / "config.yaml")
    for path in cut.iterdir():
        path.unlink()
    sets = [
        f"{s}.{k}={json.dumps(v)}"
        for s in ("train", "model", "data")
        for k, v in cfg_data[s].items()
        if v is not None
    ]
    cfg = resolve_train_config("standard", None, sets, seed=1)
    flag = StopFlag()
    with pytest.raises(Interrupted):
        run_experiment(
            cfg,
            cut,
            torch.device("cpu"),
            observer=StopAfter(flag, 3),
            stop=flag,
            plots_enabled=False,
        )
    again = invoke(
        runner,
        "tune",
        "standard",
        "--resume",
        "--trials",
        "0",
        "--final-seeds",
        "2",
        "--pruner",
        "none",
        *SMOKE,
        "--out",
        out,
        "--json",
        "-q",
    )
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)["families"]["standard"]
    assert report["best_params"] == best and len(report["trials"]) == 2  # no trial added
    assert (done / "report.json").stat().st_mtime_ns == kept  # the finished final is kept
    resumed = load_file(str(cut / "model.safetensors"))
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)


def test_resuming_fewer_families_keeps_the_earlier_ones(runner, tmp_path: Path) -> None:
    out = tmp_path / "t"
    common = ["--final-seeds", "2", "--pruner", "none", *SMOKE, "--out", out, "--json", "-q"]
    first = invoke(runner, "tune", "standard", "hpe", "--trials", "1", *common)
    assert first.exit_code == 0, first.output
    again = invoke(runner, "tune", "hpe", "--resume", "--trials", "1", *common)
    assert again.exit_code == 0, again.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["families"]) == {"standard", "hpe"}
    assert report["families"]["standard"] == json.loads(first.stdout)["families"]["standard"]
    assert len(report["families"]["hpe"]["trials"]) == 2 and len(report["pairwise"]) == 1
    assert "| standard |" in (out / "comparison.md").read_text()


def children_of(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    out = tmp_path / "t"
    proc = subprocess.Popen(
        spectral(
            "tune",
            "standard",
            "--trials",
            "4",
            "--workers",
            "2",
            *SLOW,
            "--out",
            out,
            "--device",
            "cpu",
            "-q",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trials = out / "trials" / "spectral-standard"
    wait_for(lambda: trials.is_dir() and len(list(trials.glob("*/state.safetensors"))) >= 2)
    workers = children_of(proc.pid)
    assert len([w for w in workers if alive(w)]) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for(lambda: not any(alive(w) for w in workers), timeout=60)


def test_ctrl_c_in_tune_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "t"
    proc = subprocess.Popen(
        spectral(
            "tune",
            "standard",
            "--trials",
            "4",
            "--workers",
            "2",
            *SLOW,
            "--out",
            out,
            "--device",
            "cpu",
            "-q",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    trials = out / "trials" / "spectral-standard"
    wait_for(lambda: trials.is_dir() and len(list(trials.glob("*/state.safetensors"))) >= 2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: ")
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.6])
def test_ctrl_c_while_workers_start_is_one_line(tmp_path: Path, delay: float) -> None:
    """Ctrl-C reaches the workers too (the whole foreground group), here while they are still
    starting: unpickling their task and importing torch, whose C++ initializers cannot unwind a
    KeyboardInterrupt (the process aborts: "terminate called ..."). The workers are started with
    SIGINT ignored, so only the parent sees the Ctrl-C and stops them itself."""
    out = tmp_path / "t"
    proc = subprocess.Popen(
        spectral(
            "tune",
            "standard",
            "--trials",
            "4",
            "--workers",
            "2",
            *SLOW,
            "--out",
            out,
            "--device",
            "cpu",
            "-q",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: len(children_of(proc.pid)) >= 2, timeout=60)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "terminate called" not in err and "Traceback" not in err, err
    assert [line for line in err.splitlines() if line.strip()][-1].startswith("error: ")
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
