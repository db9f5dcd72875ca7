"""``spectral tune``: end to end, continuation, workers, failing trials, statistics, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest
from conftest import assert_one_line_error, invoke

from spectral_cli.core.errors import RuntimeFailure
from spectral_cli.core.signals import StopFlag
from spectral_cli.core.stats import summarize, welch
from spectral_cli.tuning.settings import TuneSettings
from spectral_cli.tuning.trials import run_trials

TINY = ["--set", "train.epochs=1", "--set", "data.limit=200", "--set", "train.batch_size=64"]


def tune(
    runner, out: Path, *args: object, trials: int, seeds: int, sets: list[str] = TINY
) -> object:
    """``spectral tune ARGS --trials T --final-seeds S SETS --out OUT -q``."""
    return invoke(
        runner,
        "tune",
        *args,
        "--trials",
        str(trials),
        "--final-seeds",
        str(seeds),
        *sets,
        "--out",
        out,
        "-q",
    )


def trials_in(out: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'optuna.db'}")
    return study.trials


def test_tiny_end_to_end_and_continuation(runner, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    result = tune(runner, out, "hpe", "standard", "--json", trials=2, seeds=2)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((out / "report.json").read_text())
    for family in ("hpe", "standard"):
        fam = report["families"][family]
        assert len(fam["trials"]) == 2 and {t["state"] for t in fam["trials"]} == {"COMPLETE"}
        assert set(fam["best_params"]) >= {"train.lr"}
        assert fam["test"]["n"] == 2 and len(fam["final"]) == 2
        assert (out / f"best-{family}" / "model.safetensors").is_file()
        assert (out / f"best-{family}" / "report.json").is_file()
        # trials never evaluate the test split
        for trial_dir in (out / "trials" / f"spectral-{family}").iterdir():
            trial_report = json.loads((trial_dir / "report.json").read_text())
            assert trial_report["metrics"]["test_acc"] is None
    assert "model.k" in report["families"]["hpe"]["best_params"]
    assert 4 <= report["families"]["hpe"]["best_params"]["model.k"] <= 16
    assert len(report["pairwise"]) == 1
    md = (out / "comparison.md").read_text()
    assert "| hpe |" in md and "95 % CI" in md
    assert f"{report['families']['hpe']['params_total']:,}" in md
    assert (out / "comparison.png").stat().st_size > 0

    # a resume restores the study's --set and --final-seeds: nothing is typed again
    again = invoke(runner, "tune", "hpe", "--resume", "--trials", "1", "--out", out, "-q")
    assert again.exit_code == 0, again.output
    trials = trials_in(out, "spectral-hpe")
    assert [t.number for t in trials] == [0, 1, 2]


def test_continuing_with_other_overrides_is_refused(runner, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    ok = tune(runner, out, "standard", trials=1, seeds=0)
    assert ok.exit_code == 0, ok.output
    other = [a.replace("train.epochs=1", "train.epochs=2") for a in TINY]
    result = tune(runner, out, "standard", "--resume", trials=1, seeds=0, sets=other)
    assert_one_line_error(result, 2)
    assert "--set was" in result.stderr and "train.epochs=1" in result.stderr


def test_space_values_keep_their_types() -> None:
    from spectral_cli.core.config import parse_set
    from spectral_cli.tuning.space import as_sets

    items = as_sets({"model.amp_std": None, "model.strategy": "rows", "train.lr": 0.0035384535909})
    assert [v for _, v in parse_set(items)] == [None, "rows", 0.0035384535909]


def test_orphaned_trials_of_a_dead_worker_are_failed(tmp_path: Path) -> None:
    from spectral_cli.tuning.recovery import fail_orphaned_trials

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(storage=url, study_name="spectral-hpe", direction="maximize")
    dead, alive = study.ask(), study.ask()
    dead.set_user_attr("pid", 4242)
    alive.set_user_attr("pid", 1)
    settings = TuneSettings(families=("hpe",), out=tmp_path, storage=url)
    fail_orphaned_trials(settings, "hpe", {4242})
    states = {
        t.number: t.state.name
        for t in optuna.load_study(study_name="spectral-hpe", storage=url).trials
    }
    assert states == {dead.number: "FAIL", alive.number: "RUNNING"}


def test_two_workers_share_one_storage(runner, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    result = tune(runner, out, "hpe", "--workers", "2", "--sampler", "random", trials=3, seeds=2)
    assert result.exit_code == 0, result.output
    trials = trials_in(out, "spectral-hpe")
    assert sorted(t.number for t in trials) == [0, 1, 2]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    dirs = {t.user_attrs["run_dir"] for t in trials}
    assert len(dirs) == 3
    report = json.loads((out / "report.json").read_text())  # finals ran in 2 worker processes
    assert [f["seed"] for f in report["families"]["hpe"]["final"]] == [0, 1]
    assert report["families"]["hpe"]["test"]["n"] == 2
    assert (out / "best-hpe" / "model.safetensors").is_file()


def test_a_failing_trial_does_not_stop_the_study(tmp_path: Path, monkeypatch) -> None:
    import spectral_cli.core.pipeline as run_module

    real = run_module.run_experiment
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeFailure("loss became nan at epoch 1 step 1")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "run_experiment", flaky)
    settings = TuneSettings(
        families=("standard",),
        out=tmp_path,
        trials=3,
        quiet=True,
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        sets=("train.epochs=1", "data.limit=200"),
    )
    run_trials(settings, "standard", 3, 0, stop=StopFlag())
    states = [t.state.name for t in trials_in(tmp_path, "spectral-standard")]
    assert states == ["FAIL", "COMPLETE", "COMPLETE"]


def test_statistics_against_a_hand_computed_example() -> None:
    a, b = [0.50, 0.52, 0.48, 0.51, 0.49], [0.45, 0.47, 0.46, 0.44, 0.48]
    sa = summarize(a)
    # mean 0.50, sample variance 0.00025 -> std 0.0158114; t_{0.975,4} = 2.776445
    assert sa.mean == pytest.approx(0.50)
    assert sa.std == pytest.approx(math.sqrt(0.00025))
    assert sa.ci95_high - sa.mean == pytest.approx(2.776445 * math.sqrt(0.00025 / 5), rel=1e-6)
    pt = welch("a", a, "b", b)
    # var_b = 0.00025 too: se = sqrt(2 * 0.00025 / 5) = 0.01, t = 0.04 / 0.01 = 4, df = 8
    assert pt.diff == pytest.approx(0.04)
    assert pt.t == pytest.approx(4.0)
    assert pt.df == pytest.approx(8.0)
    # closed form of the two-sided p for even df: 1 - sqrt(x) sum_j C(2j,j)/4^j (1-x)^j,
    # x = t^2/(t^2+df) = 2/3 -> 1 - 0.816497 * (1 + 1/6 + 3/72 + 5/432) = 0.0039498
    x = 16 / 24
    closed = 1 - math.sqrt(x) * sum(math.comb(2 * j, j) / 4**j * (1 - x) ** j for j in range(4))
    assert pt.p_value == pytest.approx(closed, rel=1e-9)
    assert pt.ci95_low == pytest.approx(0.04 - 2.306004 * 0.01, rel=1e-6)
    assert pt.supported
    reverse = welch("b", b, "a", a)
    assert not reverse.supported and reverse.p_value == pytest.approx(pt.p_value)
    assert welch("x", [0.5], "y", [0.4, 0.41]).p_value is None


def test_bad_inputs(runner, tmp_path: Path) -> None:
    bad_space = tmp_path / "space.yaml"
    bad_space.write_text("train.lr: {type: float, low: 0.1}\n")
    not_yaml = tmp_path / "broken.yaml"
    not_yaml.write_text("train.lr: [\n")
    float_epochs = tmp_path / "float_epochs.yaml"
    float_epochs.write_text("train.epochs: {type: float, low: 1, high: 2}\n")
    cases = [
        ["tune", "nosuch", "--out", tmp_path / "a"],
        ["tune", "hpe", "--trials", "0", "--out", tmp_path / "b"],
        ["tune", "hpe", "--space", bad_space, "--out", tmp_path / "c"],
        ["tune", "hpe", "--space", not_yaml, "--out", tmp_path / "d"],
        ["tune", "hpe", "--space", tmp_path / "missing.yaml", "--out", tmp_path / "e"],
        ["tune", "hpe", "--storage", "nosuchdialect://x", "--out", tmp_path / "f"],
        ["tune", "hpe", "--sampler", "grid", "--out", tmp_path / "g"],
        ["tune", "hpe", "--set", "model.nope=1", "--out", tmp_path / "h"],
    ]
    cases += [
        ["tune", "hpe", "--set", f"data.path={tmp_path / 'none.npz'}", "--out", tmp_path / "k"],
        ["tune", "hpe", "--resume", "--overwrite", "--out", tmp_path / "l"],
        ["tune", "hpe", "--resume"],
        ["tune", "hpe", "--seed", "-3", "--out", tmp_path / "m"],
        # a float range on an integer key: whole-number ends pass, every trial would fail
        ["tune", "standard", "--space", float_epochs, "--out", tmp_path / "n"],
        ["tune", "hpe", "--set", "train.lr=abc", "--out", tmp_path / "o"],  # a tuned key
        ["tune", "hpe", "--set", "train.lr=-1", "--out", tmp_path / "p"],
    ]
    cases += [
        ["tune", "hpe", "--timeout", t, "--out", tmp_path / f"t{i}"]
        for i, t in enumerate(["0", "-5", "nan", "inf"])
    ]
    for args in cases:
        assert_one_line_error(invoke(runner, *args, "-q"), 2)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # refused runs create no directory

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(storage=url, study_name="mine-hpe", direction="maximize")
    study.set_user_attr("spectral.family", "standard")
    result = invoke(
        runner,
        "tune",
        "hpe",
        "--storage",
        url,
        "--study-name",
        "mine",
        "--out",
        tmp_path / "i",
        "-q",
    )
    assert_one_line_error(result, 2)
    assert "belongs to family 'standard'" in result.stderr
    optuna.create_study(storage=url, study_name="min-hpe", direction="minimize")
    result = invoke(
        runner,
        "tune",
        "hpe",
        "--storage",
        url,
        "--study-name",
        "min",
        "--out",
        tmp_path / "j",
        "-q",
    )
    assert_one_line_error(result, 2)


def test_sigterm_ends_tuning_with_exit_130_and_keeps_finished_trials(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "tune"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spectral_cli", "tune", "standard", "--trials", "50",
         "--pruner", "none", "--set", "train.epochs=3", "--set", "data.limit=300",
         "--out", str(out)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # wait for the first finished trial
        if "trial 1/50" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("error: SIGTERM")
    states = [t.state.name for t in trials_in(out, "spectral-standard")]
    assert states[0] == "COMPLETE" and len(states) < 50
    assert "RUNNING" not in states  # the interrupted trial is recorded as failed
