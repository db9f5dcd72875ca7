"""``spectral tune --storage postgresql+psycopg://…`` on a real, throwaway PostgreSQL server.

Two ``spectral tune`` processes share one study, as two machines of a team would; one is killed
with SIGKILL mid-trial and restarted with ``--resume``. The study ends with every requested trial
complete, the killed one FAIL (by Optuna's heartbeat: the test makes it look like it ran on
another machine, where no pid check can help), no trial number twice, nothing RUNNING.

The server (``pg_server.py``) listens on a Unix socket in a temporary directory only and runs as
``nobody`` when the tests run as root; the test is skipped, with the reason, only where the
server binaries or the ``[postgres]`` extra cannot be had (``.ci/run`` installs both).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import assert_one_line_error, invoke
from pg_server import PgServer, unavailable_reason

pytestmark = pytest.mark.skipif(bool(unavailable_reason()), reason=unavailable_reason() or "")

# ~1 s per epoch here: a trial lasts long enough to be killed in the middle of it
BUDGET = ["--set", "train.epochs=8", "--set", "data.limit=400", "--set", "train.batch_size=32"]
PER_WORKER = 2
GRACE = 8  # seconds: the killed trial's heartbeat is this old when it is failed
STUDY = "shared"
FAMILY = "standard"


@pytest.fixture(scope="module")
def pg():
    server = PgServer.start(databases=("spectral", "other", "race"))
    try:
        yield server
    finally:
        server.stop()  # pg_ctl stop -m immediate, also when a test failed


def tune_cmd(url: str, out: Path, trials: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "spectral_cli",
        "tune",
        FAMILY,
        "--storage",
        url,
        "--study-name",
        STUDY,
        "--trials",
        str(trials),
        "--final-seeds",
        "0",
        "--pruner",
        "none",
        "--sampler",
        "random",
        *BUDGET,
        "--device",
        "cpu",
        "--out",
        str(out),
        "-q",
        *extra,
    ]


def worker_env() -> dict[str, str]:
    # a short heartbeat so the killed trial is reclaimed within the test, still far above
    # the beat interval so a busy live worker is never mistaken for a dead one
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "SPECTRAL_TUNE_HEARTBEAT": "1",
        "SPECTRAL_TUNE_GRACE": str(GRACE),
    }


def trials_of(url: str) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=f"{STUDY}-{FAMILY}", storage=storage).trials
    finally:
        storage.engine.dispose()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.mark.slow
def test_two_workers_one_killed_mid_trial_lose_nothing(pg: PgServer, tmp_path: Path) -> None:
    url = pg.url("spectral").replace("postgres@", "postgres:hunter2@")  # trust auth ignores it
    plain = url.replace("postgresql+psycopg://", "postgresql://")  # the [postgres] extra's driver
    out_a, out_b = tmp_path / "machine-a", tmp_path / "machine-b"
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("a", "b", "b2")}
    procs: list[subprocess.Popen] = []

    def start(name: str, cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd,
            env=worker_env(),
            stdin=subprocess.DEVNULL,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    def log(name: str) -> str:
        logs[name].flush()
        return (tmp_path / f"{name}.log").read_text()

    try:
        # both start at once on a fresh database: they race to create the tables
        a = start("a", tune_cmd(plain, out_a, PER_WORKER))
        b = start("b", tune_cmd(url, out_b, PER_WORKER))

        def b_mid_trial() -> optuna.trial.FrozenTrial | None:
            if b.poll() is not None:
                pytest.fail(f"worker b exited {b.returncode} before it was killed:\n{log('b')}")
            try:
                running = [
                    t
                    for t in trials_of(url)
                    if t.state.name == "RUNNING" and t.user_attrs.get("pid") == b.pid
                ]
            except Exception:
                return None
            if (
                running
                and (
                    Path(running[0].user_attrs.get("run_dir", "/nonexistent")) / "state.safetensors"
                ).is_file()
            ):
                return running[0]  # at least one epoch in, more to go
            return None

        victim = wait_for(b_mid_trial, 300, "worker b in the middle of a trial")
        os.kill(b.pid, signal.SIGKILL)
        assert b.wait(timeout=30) == -signal.SIGKILL
        after_kill = {t.number: t for t in trials_of(url)}
        assert after_kill[victim.number].state.name == "RUNNING"  # nobody finished it
        # make it look like b ran on another machine: no pid check applies, only the heartbeat
        storage = optuna.storages.RDBStorage(url)
        storage.set_trial_user_attr(victim._trial_id, "host", "another-machine")
        storage.set_trial_user_attr(victim._trial_id, "pid_space", "another-kernel")
        storage.engine.dispose()
        done_by_b = sum(
            t.state.name == "COMPLETE" and t.user_attrs.get("pid") == b.pid
            for t in after_kill.values()
        )
        # machine b restarts its command once the dead trial's heartbeat is stale (a already
        # fails it if it starts a trial by then); the restart adds the trials b did not finish
        time.sleep(GRACE + 1)
        b2 = start("b2", tune_cmd(url, out_b, PER_WORKER - done_by_b, "--resume"))
        assert a.wait(timeout=900) == 0, log("a")
        assert b2.wait(timeout=900) == 0, log("b2")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for handle in logs.values():
            handle.close()

    trials = trials_of(url)
    states = [t.state.name for t in trials]
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials))), numbers  # none missing or twice
    assert "RUNNING" not in states, states
    # every requested trial completed; the killed one alone failed
    assert states.count("COMPLETE") == 2 * PER_WORKER, states
    assert [t.number for t in trials if t.state.name != "COMPLETE"] == [victim.number], states
    by_pid = {
        pid: sum(t.user_attrs.get("pid") == pid for t in trials) for pid in (a.pid, b.pid, b2.pid)
    }
    assert by_pid[a.pid] == PER_WORKER and by_pid[b.pid] == done_by_b + 1, by_pid
    assert by_pid[b2.pid] == PER_WORKER - done_by_b, by_pid
    # each trial ran in exactly one run directory, one per trial number
    dirs = [
        p.name for out in (out_a, out_b) for p in (out / "trials" / f"{STUDY}-{FAMILY}").iterdir()
    ]
    assert sorted(dirs) == [f"trial-{n:04d}" for n in range(len(trials))], dirs
    for trial in trials:
        has_report = (Path(trial.user_attrs["run_dir"]) / "report.json").is_file()
        assert has_report == (trial.state.name == "COMPLETE"), trial.number
    # the last worker to finish reports the whole study; no password in any report
    last = max((out_a, out_b), key=lambda out: (out / "report.json").stat().st_mtime)
    report = json.loads((last / "report.json").read_text())
    reported = report["families"][FAMILY]["trials"]
    assert len(reported) == len(trials) and "RUNNING" not in {t["state"] for t in reported}
    for out in (out_a, out_b):
        text = (out / "report.json").read_text()
        assert "hunter2" not in text and "postgres:***@" in text
    assert json.loads((out_a / "report.json").read_text())["storage"].startswith("postgresql://")


@pytest.mark.slow
def test_workers_starting_at_once_on_a_fresh_database_all_open_the_study(pg: PgServer) -> None:
    """Creating the tables and the study is not atomic: the workers that lose the race retry
    (tables) or wait for the winner's tag (study) instead of failing."""
    code = (
        "import sys; from spectral_cli.tuning.study import open_storage, open_study\n"
        "open_study(open_storage(sys.argv[1]), 'race-hpe', 'hpe', None, None, ['x=1'])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, pg.url("race")], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    summary = optuna.get_all_study_summaries(pg.url("race"))
    assert [s.study_name for s in summary] == ["race-hpe"]
    assert summary[0].user_attrs["spectral.family"] == "hpe"


def test_a_study_being_created_is_waited_for_not_refused(
    pg: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from spectral_cli.core.errors import BadInput
    from spectral_cli.tuning import study as study_mod

    storage = study_mod.open_storage(pg.url("other"))
    # the instant between another worker's create_study and its tags
    created = optuna.create_study(storage=storage, study_name="late-hpe", direction="maximize")
    timer = threading.Timer(1.0, created.set_user_attr, ("spectral.family", "hpe"))
    timer.start()
    study = study_mod.open_study(storage, "late-hpe", "hpe", None, None)
    timer.join()
    assert study.user_attrs["spectral.family"] == "hpe"
    # a study no spectral worker tags is still refused, after the wait
    monkeypatch.setattr(study_mod, "TAG_WAIT_SECONDS", 0.5)
    optuna.create_study(storage=storage, study_name="foreign-hpe", direction="maximize")
    with pytest.raises(BadInput, match="belongs to family None"):
        study_mod.open_study(storage, "foreign-hpe", "hpe", None, None)


def test_bad_heartbeat_settings_are_one_line_errors(
    runner, pg: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECTRAL_TUNE_HEARTBEAT", "30")
    monkeypatch.setenv("SPECTRAL_TUNE_GRACE", "10")
    result = invoke(
        runner,
        "tune",
        FAMILY,
        "--storage",
        pg.url("other"),
        "--trials",
        "1",
        "--out",
        tmp_path / "t",
    )
    assert_one_line_error(result, 2)
    assert "SPECTRAL_TUNE_GRACE" in result.stderr and not (tmp_path / "t").exists()


def test_an_unreachable_database_is_refused_without_its_password(
    runner, pg: PgServer, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://postgres:hunter2@/missing?host={pg.socket_dir}"
    result = invoke(
        runner, "tune", FAMILY, "--storage", url, "--trials", "1", "--out", tmp_path / "t"
    )
    assert_one_line_error(result, 2)
    assert "hunter2" not in result.output and not (tmp_path / "t").exists()
