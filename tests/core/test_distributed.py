"""Data-parallel ``spectral train`` on two CPU processes (gloo), against one process.

Documented tolerance: with dropout and batch norm off, two ranks with the same *global* batch
take the single-process step up to float summation order (the gradient is a weighted sum of two
half-batch means instead of one mean). Losses and metrics then agree to 1e-6 relative and almost
every weight to 1e-5. The exception is a parameter whose gradient is zero in exact arithmetic
(the attention key bias: softmax ignores it): its gradient is rounding noise, which Adam
normalizes into lr-sized steps of either sign, so it can differ by up to ~lr per step. The test
bounds the mean difference at 1e-6 and the worst at 2 * lr * steps.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

NO_DROPOUT = ["--set", "model.dropout=0.0"]  # deterministic steps: ranks vs one process
BUDGET = ["--set", "train.epochs=2", "--set", "data.limit=300", "--set", "train.batch_size=64"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(
    args: list[str], world: int, per_rank: list[list[str]] | None = None
) -> list[subprocess.Popen]:
    """``world`` ranks of ``spectral ARGS`` (``per_rank[r]`` appended to rank r's)."""
    port = free_port()
    procs = []
    for rank in range(world):
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "spectral_cli", *args, *(per_rank or [[]] * world)[rank]],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def finish(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    return [(p.wait(timeout=600), *p.communicate()) for p in procs]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def test_torchrun_two_ranks_match_one_process(tmp_path: Path) -> None:
    """One ``torchrun --nproc_per_node 2`` launch checks the whole data-parallel plumbing (it
    merges three launches that each checked part of it): the launcher's environment is read,
    both ranks exit 0, only rank 0 prints (stdout holds exactly one JSON report, the one on
    disk), the run directory is complete with no temporaries, and losses, metrics and weights
    match a single process within the documented tolerance."""
    family = "standard"
    args = ["train", family, *BUDGET, *NO_DROPOUT, "--device", "cpu", "--seed", "3"]
    ddp = tmp_path / "ddp"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(free_port()),
            "-m",
            "spectral_cli",
            *args,
            "--out",
            str(ddp),
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # only rank 0 prints the result: stdout is one JSON document, the report it wrote
    assert json.loads(done.stdout) == json.loads((ddp / "report.json").read_text())
    assert f'"family": "{family}"' in done.stdout
    single = subprocess.run(
        [sys.executable, "-m", "spectral_cli", *args, "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert single.returncode == 0, single.stderr

    ra, rb = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("ddp", "one"))
    assert ra["family"] == family
    for ha, hb in zip(ra["history"], rb["history"], strict=True):
        for key in ("loss", "val_loss"):
            assert ha[key] == pytest.approx(hb[key], rel=1e-6), key
    assert ra["metrics"] == pytest.approx(rb["metrics"], rel=1e-6)
    a, b = weights(ddp), weights(tmp_path / "one")
    diffs = torch.cat([(a[k].double() - b[k].double()).abs().flatten() for k in a])
    steps, lr = 10, rb["config"]["train"]["lr"]  # 270 train signals / 64 = 5 steps x 2 epochs
    assert float(diffs.mean()) < 1e-6 and float(diffs.max()) < 2 * lr * steps
    names = {p.name for p in ddp.iterdir()}
    assert {"model.safetensors", "state.safetensors", "report.json", "curves.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]


def test_sigterm_to_the_group_saves_once_and_resumes_exactly(tmp_path: Path) -> None:
    args = [
        "train",
        "standard",
        "--set",
        "train.epochs=6",
        "--set",
        "data.limit=600",
        "--set",
        "train.batch_size=32",
        *NO_DROPOUT,
        "--device",
        "cpu",
        "--seed",
        "1",
    ]
    full = finish(launch([*args, "--out", str(tmp_path / "full")], 2))
    assert [c for c, _, _ in full] == [0, 0], full
    cut = tmp_path / "cut"
    procs = launch([*args, "--out", str(cut)], 2)
    deadline = time.time() + 300
    while not (cut / "report.json").exists() and time.time() < deadline:
        if (cut / "state.safetensors").is_file() and len(list(cut.glob("*.safetensors"))) >= 2:
            break  # an epoch ended: a model exists; stop mid-run
        time.sleep(0.1)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    stopped = finish(procs)
    assert [c for c, _, _ in stopped] == [130, 130], stopped
    errors = [[x for x in err.splitlines() if x.startswith("error:")] for _, _, err in stopped]
    assert len(errors[0]) == 1 and errors[1] == [], errors  # rank 0 alone says it
    resumed = finish(launch([*args, "--out", str(cut), "--resume"], 2))
    assert [c for c, _, _ in resumed] == [0, 0], resumed
    a, b = weights(tmp_path / "full"), weights(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)  # same ranks, same sharding: bit-identical


def test_a_non_zero_rank_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer guards: a rank other than 0 leaves the run directory untouched."""
    from spectral_cli.core import distributed
    from spectral_cli.core.pipeline import run_experiment
    from spectral_cli.core.resolve import resolve_train_config

    monkeypatch.setattr(distributed, "_CURRENT", distributed.Dist(rank=1, world=1))
    cfg = resolve_train_config(
        "hae", None, ["train.epochs=4", "data.limit=160", "model.hidden=32", "model.baseline=sae"]
    )
    report = run_experiment(cfg, tmp_path, torch.device("cpu"))
    assert list(tmp_path.iterdir()) == [] and set(report.models) == {"hae", "sae"}


def error_lines(result: tuple[int, str, str]) -> list[str]:
    return [line for line in result[2].splitlines() if line.strip()]


def test_a_bad_input_under_two_ranks_is_one_line_from_rank_0(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = ["train", "standard", "--set", "train.epochs=0", "--device", "cpu", "--out", str(out)]
    results = finish(launch(args, 2))
    assert [c for c, _, _ in results] == [2, 2], results
    assert len(error_lines(results[0])) == 1 and error_lines(results[0])[0].startswith("error: ")
    assert error_lines(results[1]) == [] and results[1][1] == ""  # rank 1: silent
    assert not out.exists()


def test_ranks_started_with_different_settings_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = ["train", "hpe", *BUDGET, "--device", "cpu", "--out", str(out)]
    k = [["--set", "model.k=8"], ["--set", "model.k=4"]]
    results = finish(launch(args, 2, per_rank=k))
    assert [c for c, _, _ in results] == [2, 2], results
    (line,) = error_lines(results[0])
    assert line.startswith("error: the ranks started with different settings (rank 1")
    assert error_lines(results[1]) == []
    assert not out.exists()


def test_a_resume_at_another_world_size_needs_allow_world_change(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spectral_cli.cli.main import app

    out = tmp_path / "r"
    args = ["train", "standard", *BUDGET, *NO_DROPOUT, "--device", "cpu", "--out", str(out)]
    first = CliRunner().invoke(app, [*args[:-2], "--out", str(out), "-q"])  # one process
    assert first.exit_code == 0, first.output
    state = (out / "state.safetensors").read_bytes()
    more = [*args, "--resume", "--set", "train.epochs=3", "-q"]
    refused = finish(launch(more, 2))
    assert [c for c, _, _ in refused] == [2, 2], refused
    (line,) = error_lines(refused[0])
    assert "1 process(es), this resume has 2" in line and "--allow-world-change" in line
    assert error_lines(refused[1]) == [] and (out / "state.safetensors").read_bytes() == state
    allowed = finish(launch([*more, "--allow-world-change"], 2))
    assert [c for c, _, _ in allowed] == [0, 0], allowed
    report = json.loads((out / "report.json").read_text())
    assert len(report["history"]) == 3 and report["resumes"][-1]["world_size"] == 2


def test_a_stopped_rank_fails_the_others_after_the_collective_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rank 1 frozen (SIGSTOP) mid-run: rank 0 gives up after $SPECTRAL_DIST_TIMEOUT (here 5 s)
    with one error line and exit 3, instead of waiting torch's default 30 minutes."""
    monkeypatch.setenv("SPECTRAL_DIST_TIMEOUT", "5")
    out = tmp_path / "r"
    slow = ["--set", "train.epochs=30", "--set", "data.limit=600", "--set", "train.batch_size=16"]
    procs = launch(["train", "standard", *slow, "--device", "cpu", "--out", str(out)], 2)
    try:
        deadline = time.time() + 300
        while not (out / "state.safetensors").is_file() and time.time() < deadline:
            time.sleep(0.1)  # an epoch ended: both ranks are in the loop
        procs[1].send_signal(signal.SIGSTOP)
        code = procs[0].wait(timeout=180)
        _, err = procs[0].communicate()
    finally:
        for p in procs:
            p.send_signal(signal.SIGCONT)
            p.kill()
            p.wait()
    assert code == 3, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err


@pytest.mark.parametrize("value", ["0", "soon"])
def test_a_bad_collective_timeout_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SPECTRAL_DIST_TIMEOUT", value)
    args = ["train", "standard", *BUDGET, "--device", "cpu", "--out", str(tmp_path / "r")]
    results = finish(launch(args, 2))
    assert [c for c, _, _ in results] == [2, 2], results
    (line,) = error_lines(results[0])
    assert "SPECTRAL_DIST_TIMEOUT" in line and not (tmp_path / "r").exists()
