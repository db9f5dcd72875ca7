"""Live logs and provenance: ``metrics.jsonl`` as the run goes, TensorBoard events, and a
provenance block that a resume never rewrites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import StopAfter, invoke, read_report, snapshot

from spectral_cli.core.errors import Interrupted
from spectral_cli.core.metrics_log import METRICS_FILE, read_lines
from spectral_cli.core.pipeline import run_experiment
from spectral_cli.core.registry import family_names, get_family
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.core.signals import StopFlag

SETS = ["train.epochs=3", "data.limit=300", "train.batch_size=64"]  # 270 train -> 5 steps/epoch
CPU = torch.device("cpu")


def history_of(run_dir: Path, model: str) -> list[dict]:
    """The model's metrics.jsonl records without the fields the report's history lacks."""
    lines = [r for r in read_lines(run_dir / METRICS_FILE) if r["model"] == model]
    return [{k: v for k, v in r.items() if k not in ("model", "time")} for r in lines]


class ReadMidRun:
    """Observer that, at the first step of epoch (or step block) 2, reads the run's
    metrics.jsonl as another reader would, then stops the run."""

    def __init__(self, run_dir: Path, flag: StopFlag) -> None:
        self.run_dir, self.flag = run_dir, flag
        self.seen: list[dict] | None = None
        self.report_existed = True

    def log(self, message: str) -> None:
        pass

    def on_step(self, epoch: int, step: int, steps: int) -> None:
        if epoch == 2 and self.seen is None:
            self.seen = read_lines(self.run_dir / METRICS_FILE)
            self.report_existed = (self.run_dir / "report.json").exists()
            self.flag.request("SIGTERM")

    def on_epoch(self, record: dict[str, float], improved: bool) -> None:
        pass


@pytest.mark.parametrize("family", family_names())
def test_metrics_jsonl_is_written_while_the_run_goes(tmp_path: Path, family: str) -> None:
    """Read mid-run, for every family: the first epoch's line is on disk while the run still
    trains and has no report yet (in this process; the next test reads it from another)."""
    fam = get_family(family)
    length = "train.steps=400" if fam.unit == "steps" else "train.epochs=400"
    cfg = resolve_train_config(family, None, [*fam.smoke, length])
    out, flag = tmp_path / "run", StopFlag()
    reader = ReadMidRun(out, flag)
    with pytest.raises(Interrupted):
        run_experiment(cfg, out, CPU, observer=reader, stop=flag, plots_enabled=False)
    first = reader.seen
    assert first and not reader.report_existed
    model = fam.members(cfg)[0].name
    assert first[0]["epoch"] == 1 and first[0]["model"] == model
    assert {"step", "loss", "val_loss", fam.select.name, "seconds", "time"} <= set(first[0])


def test_metrics_jsonl_is_readable_by_another_process_mid_run(tmp_path: Path) -> None:
    """The same, from outside: a real ``spectral train`` process, read while it trains."""
    family = "mlp"
    fam = get_family(family)
    sets = [f for item in (*fam.smoke, "train.epochs=400") for f in ("--set", item)]
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spectral_cli", "train", family, *sets, "--out", str(out), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not read_lines(out / METRICS_FILE):
            assert proc.poll() is None, "the run ended before its first epoch was logged"
            time.sleep(0.05)
        first = read_lines(out / METRICS_FILE)
        assert first and proc.poll() is None  # read mid-run
        assert not (out / "report.json").exists()
        assert first[0]["epoch"] == 1 and first[0]["model"] == family
    finally:
        proc.kill()
        proc.wait()


def test_a_resume_continues_the_log_without_duplicates_and_keeps_the_provenance(
    tmp_path: Path,
) -> None:
    cfg = resolve_train_config("hpe", None, SETS, seed=3)
    run = tmp_path / "cut"
    flag = StopFlag()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.raises(Interrupted):
            run_experiment(cfg, run, CPU, observer=StopAfter(flag, 8), stop=flag)  # epoch 2
        assert [r["epoch"] for r in read_lines(run / METRICS_FILE)] == [1]
        torch.set_num_threads(2)  # another thread count than the run started with
        report = run_experiment(cfg, run, CPU, resume=True)
    finally:
        torch.set_num_threads(threads)
    assert history_of(run, "hpe") == report.history
    assert [h["epoch"] for h in report.history] == [1, 2, 3]
    assert report.provenance is not None and report.provenance.torch_threads == 1
    assert len(report.resumes) == 1 and report.resumes[0].torch_threads == 2
    assert report.resumes[0].threads_changed and report.resumes[0].wall_seconds is not None


def test_provenance_is_complete_and_a_resume_of_a_finished_run_changes_nothing(
    runner, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = ["train", "mlp", *[f for s in SETS for f in ("--set", s)], "--out", str(out)]
    assert invoke(runner, *args, "--threads", "1").exit_code == 0
    prov = read_report(out)["provenance"]
    for key in ("command_line", "started", "ended", "host", "cpu", "data_sha256"):
        assert prov[key], key
    assert prov["torch_threads"] == 1 and prov["world_size"] == 1
    assert {"torch", "numpy", "mnist1d"} <= set(prov["versions"])
    assert prov["command_line"] == sys.argv  # the process's own command line
    before = snapshot(out)
    again = invoke(runner, "train", "mlp", "--out", str(out), "--resume", "--threads", "2")
    assert again.exit_code == 0
    assert "finished; --resume changes nothing" in again.stderr
    assert snapshot(out) == before  # report.json included: nothing rewritten


def test_tensorboard_events_read_back_equal_metrics_jsonl(runner, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="pip install 'spectral-cli[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    args = ["train", "hmlp", "--compare", *[f for s in SETS for f in ("--set", s)]]
    result = invoke(
        runner, *args, "--set", "model.hidden=[16,8]", "--logger", "tensorboard", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    for model in ("hmlp", "mlp"):  # one TensorBoard run per model
        events = EventAccumulator(str(out / "tensorboard" / model))
        events.Reload()
        lines = history_of(out, model)
        for key in ("loss", "val_acc", "val_loss", "train_acc"):
            scalars = events.Scalars(key)
            assert [s.step for s in scalars] == [int(r["step"]) for r in lines]
            assert [s.value for s in scalars] == pytest.approx([r[key] for r in lines], rel=1e-6)
    report = read_report(out)
    assert report["files"]["tensorboard"] == "tensorboard"


def test_an_unknown_logger_is_refused_before_anything_is_made(runner, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke(runner, "train", "mlp", "--logger", "wandb", "--out", str(out))
    assert result.exit_code == 2 and "--logger wandb" in result.stderr
    assert not out.exists()


def test_off_a_terminal_train_prints_one_plain_line_per_epoch(runner, tmp_path: Path) -> None:
    args = ["train", "mlp", *[f for s in SETS for f in ("--set", s)]]
    talk = invoke(runner, *args, "--out", str(tmp_path / "a"))
    epochs = [ln for ln in talk.stderr.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(":")[0] for ln in epochs] == ["epoch 1", "epoch 2", "epoch 3"]
    quiet = invoke(runner, *args, "--out", str(tmp_path / "b"), "--quiet")
    assert quiet.stderr == ""
    assert json.loads((tmp_path / "b" / "report.json").read_text())["history"]
