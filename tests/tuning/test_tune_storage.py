"""``spectral tune`` and its storage: credentials never shown or stored, a failing or corrupt
storage is one line, and nothing is created before the input is checked."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from conftest import assert_one_line_error, invoke

TINY = ["--set", "train.epochs=1", "--set", "data.limit=200", "--set", "train.batch_size=64"]
FAMILY = "standard"


@pytest.mark.parametrize(
    "storage",
    [
        "postgresql://u@127.0.0.1:1/db?password=s3cret",  # refused at once: nothing listens on 1
        "host=127.0.0.1 port=1 user=u password=s3cret dbname=db",  # a keyword DSN is no URL
        "postgresql://u:p@ss3cret@127.0.0.1:1/db",  # an unencoded '@' in the password
    ],
)
def test_a_refused_storage_does_not_show_its_password(runner, tmp_path: Path, storage: str) -> None:
    out = tmp_path / "t"
    result = invoke(runner, "tune", FAMILY, "--storage", storage, "--trials", "1", "--out", out)
    assert_one_line_error(result, 2)
    assert "s3cret" not in result.output and "***" in result.stderr
    assert not out.exists()


def test_a_successful_run_stores_no_password(runner, tmp_path: Path) -> None:
    out = tmp_path / "t"
    storage = f"sqlite:///{tmp_path / 'study.db'}?password=s3cret"  # sqlite ignores it
    result = invoke(
        runner, "tune", FAMILY, "--storage", storage, "--trials", "1", "--final-seeds", "0",
        *TINY, "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["storage"].endswith("study.db?password=***")
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".md", ".jsonl"):
            assert "s3cret" not in path.read_text(), path


def test_a_new_storage_is_not_created_for_a_refused_out(runner, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    db = tmp_path / "new.db"
    result = invoke(
        runner, "tune", FAMILY, "--storage", f"sqlite:///{db}", "--trials", "1", "--out", out
    )
    assert_one_line_error(result, 2)
    assert "not empty" in result.stderr
    assert not db.exists()
    assert {p.name for p in out.iterdir()} - {".spectral.lock"} == {"keep.txt"}


def test_resume_on_an_empty_database_file_is_refused(runner, tmp_path: Path) -> None:
    out = tmp_path / "t"
    out.mkdir()
    (out / "optuna.db").write_bytes(b"")  # e.g. a copy cut short
    result = invoke(runner, "tune", FAMILY, "--resume", "--trials", "1", *TINY, "--out", out)
    assert_one_line_error(result, 2)
    assert "empty" in result.stderr
    assert (out / "optuna.db").stat().st_size == 0  # not turned into a new study


def tuned(runner, out: Path, *args: object) -> None:
    result = invoke(
        runner, "tune", FAMILY, "--trials", "1", "--final-seeds", "0", *TINY, *args,
        "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_deeply_nested_report_on_resume_is_bad_input(runner, tmp_path: Path) -> None:
    out = tmp_path / "t"
    tuned(runner, out)
    (out / "report.json").write_text("[" * 100_000 + "]" * 100_000)
    result = invoke(runner, "tune", FAMILY, "--resume", "--trials", "1", "--out", out, "-q")
    assert_one_line_error(result, 2)
    assert "report.json" in result.stderr
    assert len(optuna_trials(out)) == 1  # refused before any trial ran


def optuna_trials(out: Path) -> list:
    storage = f"sqlite:///{out / 'optuna.db'}"
    return optuna.load_study(study_name=f"spectral-{FAMILY}", storage=storage).trials


def test_a_space_the_study_cannot_continue_is_refused(runner, tmp_path: Path) -> None:
    """A study shared through --storage, continued from another directory with a space that
    samples ``train.lr`` from a categorical where it was a float range: refused up front."""
    db = tmp_path / "shared.db"
    floats = tmp_path / "floats.yaml"
    floats.write_text("train.lr: {type: float, low: 0.001, high: 0.01}\n")
    tuned(runner, tmp_path / "a", "--space", floats, "--storage", f"sqlite:///{db}")
    choices = tmp_path / "choices.yaml"
    choices.write_text("train.lr: {type: categorical, choices: [0.001, 0.01]}\n")
    result = invoke(
        runner, "tune", FAMILY, "--space", choices, "--storage", f"sqlite:///{db}",
        "--trials", "1", *TINY, "--out", tmp_path / "b", "-q",
    )  # fmt: skip
    assert_one_line_error(result, 2)
    assert "train.lr" in result.stderr and "--study-name" in result.stderr
    study = optuna.load_study(study_name=f"spectral-{FAMILY}", storage=f"sqlite:///{db}")
    assert len(study.trials) == 1  # no failing trials added
    assert not (tmp_path / "b").exists()


def test_the_storage_failing_mid_study_is_one_line_and_fails_the_trial(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second trial's result cannot be recorded (the database went away for a moment):
    one line, exit 3, no UnboundLocalError from inside Optuna; the trial is then failed, as
    the storage takes writes again."""
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import OperationalError

    real = RDBStorage.set_trial_state_values
    seen = {"complete": 0}

    def flaky(self, trial_id, state, values=None):  # type: ignore[no-untyped-def]
        if state == optuna.trial.TrialState.COMPLETE:
            seen["complete"] += 1
            if seen["complete"] == 2:
                raise OperationalError("UPDATE trials", {}, Exception("server closed"))
        return real(self, trial_id, state, values)

    monkeypatch.setattr(RDBStorage, "set_trial_state_values", flaky)
    out = tmp_path / "t"
    result = invoke(
        runner, "tune", FAMILY, "--trials", "3", "--final-seeds", "0", *TINY, "--out", out, "-q"
    )
    assert_one_line_error(result, 3)
    assert "storage" in result.stderr and "server closed" in result.stderr
    assert "UnboundLocalError" not in result.stderr
    monkeypatch.setattr(RDBStorage, "set_trial_state_values", real)
    assert [t.state.name for t in optuna_trials(out)] == ["COMPLETE", "FAIL"]
