"""The final runs of ``spectral tune``: each family's best configuration retrained with
``final_seeds`` seeds and evaluated on the test split.

A final run directory is finished (``report.json`` for the same configuration: kept), cut
(``state.safetensors`` for the same configuration: resumed exactly) or stale/absent (trained from
scratch). So ``--resume --trials 0`` continues interrupted finals without rerunning finished ones.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spectral_cli.core.atomic import write_with
from spectral_cli.core.credentials import mask_credentials
from spectral_cli.core.errors import Interrupted, RuntimeFailure, SpectralError
from spectral_cli.core.report import Selection
from spectral_cli.core.runs import RunDir
from spectral_cli.core.signals import StopFlag, catch_signals
from spectral_cli.core.stats import summarize
from spectral_cli.tuning.recovery import die_with_parent
from spectral_cli.tuning.report import FamilyResult, FinalRun
from spectral_cli.tuning.settings import TuneSettings, trial_config
from spectral_cli.tuning.workers import join_processes, limit_threads

Job = tuple[str, int, dict[str, Any]]  # family, seed, the family's best parameters


def final_dir(settings: TuneSettings, family: str, seed: int) -> Path:
    return settings.out / "final" / family / f"seed-{seed}"


def final_runs(settings: TuneSettings, results: dict[str, FamilyResult], stop: StopFlag) -> None:
    """Retrain every family's best configuration with ``final_seeds`` seeds; evaluate on test.

    With ``workers > 1`` the runs are spread over that many spawned processes.
    """
    jobs = [
        (family, settings.seed + i, results[family].best_params)
        for family in settings.families
        for i in range(settings.final_seeds)
    ]
    if settings.workers > 1 and len(jobs) > 1:
        run_final_workers(settings, jobs, stop)
    else:
        from spectral_cli.core.device import resolve_device

        device = resolve_device(settings.device)
        for family, seed, params in jobs:
            run_final(settings, family, seed, params, device, stop)
    if stop.requested:
        raise Interrupted(
            f"{stop.signal_name} during the final runs; the studies are complete in "
            f"{mask_credentials(settings.storage)}; `--resume --trials 0` finishes the final runs"
        )
    for family, seed, _ in jobs:
        report_path = final_dir(settings, family, seed) / RunDir.REPORT
        if not report_path.is_file():
            raise RuntimeFailure(
                f"final run of {family} with seed {seed} did not finish; see {report_path.parent}"
            )
        rep = json.loads(report_path.read_text())
        result = results[family]
        val = Selection.model_validate(rep["selection"]).kept_value(rep["history"])
        result.final.append(
            FinalRun(
                seed=seed,
                val=val,
                test=rep["metrics"][result.test_metric],
                run_dir=str(report_path.parent),
            )
        )
        result.params_total = rep["params"]["total"]
    for family in settings.families:
        result = results[family]
        if not result.final:
            continue
        result.test = summarize([r.test for r in result.final], result.test_metric)
        chosen = result.best_final()  # selected on validation
        publish_best(settings.out / f"best-{family}", Path(chosen.run_dir))
        result.best_model = f"best-{family}/model.safetensors"


def publish_best(dest: Path, src: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in (RunDir.MODEL, RunDir.REPORT, RunDir.CONFIG):
        write_with(dest / name, _copier(src / name))


def _copier(source: Path) -> Callable[[Path], None]:
    """A ``write_with`` writer copying ``source`` to the temporary path it is given."""

    def copy(tmp: Path) -> None:
        shutil.copyfile(source, tmp)

    return copy


def run_final(
    settings: TuneSettings,
    family: str,
    seed: int,
    params: dict[str, Any],
    device: Any,
    stop: StopFlag,
) -> None:
    """Finish one final run: keep it if done, resume it if cut, else train it afresh."""
    from spectral_cli.core.pipeline import train_into

    cfg = trial_config(settings, family, params, seed)
    out = final_dir(settings, family, seed)
    train_into(
        cfg,
        out,
        device,
        mode="finish",
        command="tune",
        stop=stop,
        plots_enabled=False,
        loggers=settings.loggers,
    )


def final_worker_main(settings: TuneSettings, jobs: list[Job]) -> None:
    """Entry point of a spawned process running some of the final (test-evaluated) runs."""
    from spectral_cli.core.device import resolve_device

    die_with_parent()
    limit_threads(settings)
    device = resolve_device(settings.device)
    with catch_signals(StopFlag(), redeliver=False) as stop:
        try:
            for family, seed, params in jobs:
                run_final(settings, family, seed, params, device, stop)
        except SpectralError as exc:  # the parent reports the missing run; no traceback here
            sys.stderr.write(f"error: {exc}\n")
            sys.exit(exc.exit_code)


def run_final_workers(settings: TuneSettings, jobs: list[Job], stop: StopFlag) -> None:
    """Spread the final runs round-robin over ``settings.workers`` spawned processes."""
    n = min(settings.workers, len(jobs))
    shares = [jobs[i::n] for i in range(n)]
    join_processes([(final_worker_main, (settings, share)) for share in shares if share], stop)
