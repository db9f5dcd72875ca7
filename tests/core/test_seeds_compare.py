"""``train --seeds`` and ``spectral compare``: multi-seed runs and their statistics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke
from scipy import stats

from spectral_cli.core.errors import BadInput
from spectral_cli.core.seeds import parse_seeds

TINY = ["--set", "train.epochs=2", "--set", "data.limit=300", "--set", "train.batch_size=64"]


def test_seed_specs() -> None:
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("0-2,9") == [0, 1, 2, 9]
    for bad in ("", "a", "3-1", "1,1", "0-100000", "-1"):
        with pytest.raises(BadInput):
            parse_seeds(bad)


@pytest.fixture(scope="module")
def two_sides(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("seeds")
    runner = CliRunner()
    for family in ("mlp", "hmlp"):
        extra = ["--set", "model.hidden=[16,8]"]
        result = invoke(
            runner,
            "train",
            family,
            "--seeds",
            "0-2",
            *TINY,
            *extra,
            "--out",
            root / family,
            "--threads",
            "1",
        )
        assert result.exit_code == 0, result.output
    return root / "mlp", root / "hmlp"


def test_seeds_write_complete_runs_and_a_summary(two_sides: tuple[Path, Path]) -> None:
    out = two_sides[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1, 2]
    acc = [
        json.loads((out / f"seed-{s}" / "report.json").read_text())["metrics"]["test_acc"]
        for s in (0, 1, 2)
    ]
    s = summary["metrics"]["test_acc"]
    assert s["n"] == 3 and s["values"] == acc and s["min"] == min(acc) and s["max"] == max(acc)
    assert s["mean"] == pytest.approx(sum(acc) / 3)
    low, high = stats.t.interval(0.95, 2, s["mean"], stats.sem(acc))
    assert (s["ci95_low"], s["ci95_high"]) == pytest.approx((max(low, 0.0), min(high, 1.0)))
    assert "| test_acc | 3 |" in (out / "summary.md").read_text()


def test_compare_equals_scipy_on_the_same_numbers(runner, two_sides: tuple[Path, Path]) -> None:
    a, b = two_sides
    result = invoke(runner, "compare", a, b, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    pt = next(p for p in report["pairs"] if p["metric"] == "test_loss")
    xa = [
        json.loads((a / f"seed-{s}/report.json").read_text())["metrics"]["test_loss"]
        for s in (0, 1, 2)
    ]
    xb = [
        json.loads((b / f"seed-{s}/report.json").read_text())["metrics"]["test_loss"]
        for s in (0, 1, 2)
    ]
    ref = stats.ttest_rel(xa, xb)  # the same seeds on both sides: paired
    ci = ref.confidence_interval(0.95)
    assert pt["test"] == "paired" and pt["higher_is_better"] is False
    assert pt["p_value"] == pytest.approx(ref.pvalue) and pt["t"] == pytest.approx(ref.statistic)
    assert (pt["ci95_low"], pt["ci95_high"]) == pytest.approx((ci.low, ci.high))
    table = invoke(runner, "compare", a, b).stdout
    assert "| test_loss (lower is better) |" in table


def test_compare_welch_with_different_seeds_and_refusals(
    runner, two_sides: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_sides
    result = invoke(runner, "compare", a, str(b / "seed-[01]"), "--json")
    assert result.exit_code == 0, result.output
    pair = json.loads(result.stdout)["pairs"][0]
    assert pair["test"] == "welch" and pair["verdict"] == "inconclusive"
    assert_one_line_error(invoke(runner, "compare", a), 2)
    assert_one_line_error(invoke(runner, "compare", a, tmp_path / "missing"), 2)
    other = tmp_path / "other"  # a run whose metrics share nothing with a classifier's
    other.mkdir()
    (other / "report.json").write_text(
        json.dumps({"seed": 0, "family": "x", "metrics": {"test_nmse": 0.1}})
    )
    refused = invoke(runner, "compare", a, other)
    assert_one_line_error(refused, 2)
    assert "share no metric" in refused.stderr


def test_seeds_killed_and_resumed_give_the_uninterrupted_summary(
    runner, two_sides: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "cut"
    args = [
        sys.executable,
        "-m",
        "spectral_cli",
        "train",
        "mlp",
        "--seeds",
        "0-2",
        *TINY,
        "--set",
        "model.hidden=[16,8]",
        "--out",
        str(out),
        "--threads",
        "1",
        "--quiet",
    ]
    proc = subprocess.Popen(args, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 180
    while not (out / "seed-1" / "state.safetensors").is_file() and time.monotonic() < deadline:
        assert proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    again = invoke(
        runner, "train", "mlp", "--seeds", "0-2", "--out", out, "--resume", "--threads", "1"
    )
    assert again.exit_code == 0, again.output
    whole = json.loads((two_sides[0] / "summary.json").read_text())
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["metrics"] == whole["metrics"]
    assert resumed["config"] == whole["config"]  # nothing retyped: the saved settings
