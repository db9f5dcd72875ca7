"""``spectral plot RUN``: redraw every figure of a run directory from what the run saved.

Dispatch is on ``report.json``'s ``command``, through the static table below (command ->
``"module:function"``, imported on use like :data:`~spectral_cli.core.registry.FAMILY_MODULES`,
so core names no system module it imports). Each function is ``replot(run: Path) -> list[Path]``:
it reads the run's report, config and checkpoints, never trains, writes figures only (through
:func:`~spectral_cli.core.plots.save_figure`, so in the current :func:`figure_format`) and
raises :class:`~spectral_cli.core.errors.BadInput` for what is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from spectral_cli.core import plots
from spectral_cli.core.arrays import parse_json
from spectral_cli.core.errors import BadInput

Replot = Callable[[Path], list[Path]]

REPLOT: dict[str, str] = {
    "train": "spectral_cli.core.run_figures:replot",
    "tune": "spectral_cli.tuning.report:replot",
    "harmony-score": "spectral_cli.harmony.score_figures:replot",
    "ntk": "spectral_cli.ntk.plots:replot",
    "verify-lstm": "spectral_cli.spectra_lstm.verify_report:replot",
}


FIGURE_DATA = "figures.npz"  # the arrays a command's figures are drawn from (ntk, verify-lstm)


def saved_figure_data(
    run: Path, command: str, again: str, keys: Sequence[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report and the float64 arrays of ``figures.npz`` of a ``command`` run (``keys``, or
    every array); ``again`` says how to remake a run of an older layout without the file. Bad
    input (no report, another command's run, no or a damaged file) is :class:`BadInput`."""
    import numpy as np

    from spectral_cli.core.runs import RunDir

    rep_path, data_path = run / RunDir.REPORT, run / FIGURE_DATA
    if not rep_path.is_file():
        raise BadInput(f"{run} has no {RunDir.REPORT}; pass a {command} run directory")
    report = parse_json(rep_path.read_text(encoding="utf-8"), str(rep_path))
    if not isinstance(report, dict) or report.get("command") != command:
        raise BadInput(f"{rep_path} is not the report of a {command} run")
    if not data_path.is_file():
        raise BadInput(
            f"{run} has no {FIGURE_DATA} (runs before this version did not save the figures' "
            f"data); {again}"
        )
    try:
        with np.load(data_path, allow_pickle=False) as npz:
            names = npz.files if keys is None else keys
            data = {k: np.asarray(npz[k], dtype=np.float64) for k in names}
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"{data_path} is not a valid figure-data file ({exc})") from None
    return report, data


def seed_runs(run: Path) -> list[Path]:
    """The runs to redraw for RUN: RUN itself, or the ``seed-<n>/`` runs of a ``train --seeds``
    directory (``summary.json`` and no report of its own)."""
    if run.is_dir() and not (run / "report.json").exists() and (run / "summary.json").is_file():
        seeds = [p.parent for p in run.glob("seed-*/report.json")]
        if seeds:
            return sorted(seeds, key=_seed_number)
    return [run]


def _seed_number(run: Path) -> int:
    tail = run.name.removeprefix("seed-")
    return int(tail) if tail.isdigit() else -1


def run_command(run: Path) -> str:
    """The ``command`` recorded in ``run/report.json``; anything else is bad input."""
    if not run.exists():
        raise BadInput(f"RUN {run} does not exist; pass a run directory")
    if not run.is_dir():
        raise BadInput(f"RUN {run} is not a directory; pass a run directory")
    report = run / "report.json"
    if not report.is_file():
        raise BadInput(f"RUN {run} holds no report.json, so it is not a finished run")
    try:
        text = report.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{report} cannot be read ({exc})") from None
    data = parse_json(text, str(report))
    command = data.get("command") if isinstance(data, dict) else None
    if not isinstance(command, str):
        raise BadInput(f"{report} names no command; it is not a spectral report")
    if command not in REPLOT:
        raise BadInput(
            f"{report}: cannot redraw a {command!r} run; spectral plot redraws "
            f"{', '.join(sorted(REPLOT))} runs"
        )
    return command


def replot_function(command: str) -> Replot:
    """The redraw function of ``command``'s runs; a module without it is bad input."""
    module_name, _, name = REPLOT[command].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        module = None
    function = getattr(module, name, None)
    if not callable(function):
        raise BadInput(f"cannot redraw {command} runs ({module_name} lacks {name})")
    return function


def lock(run: Path) -> bool:
    """Take the run's lock: a run that a live process is writing is refused (its figures
    would be drawn from a half-written report); released when the command ends. Returns
    whether the lock file was created here."""
    from spectral_cli.core.runs import LOCK_FILE, lock_run_dir

    created = not (run / LOCK_FILE).exists()
    try:
        lock_run_dir(run)
    except BadInput as exc:
        raise BadInput(str(exc).replace(f"--out {run}", f"RUN {run}")) from None
    return created


def replot_runs(
    runs: Sequence[Path], fmt: str = "png", dpi: int = 110
) -> list[tuple[Path, list[Path]]]:
    """Redraw every run's figures as ``fmt`` at ``dpi`` (a ``train --seeds`` directory: each
    seed's run, under the directory's one lock): every run's report, command and lock are
    checked before anything is drawn; returns (run, files written) per run. A run that its
    redraw function refuses keeps no lock file this command created."""
    from spectral_cli.core.runs import LOCK_FILE, release_run_locks

    if fmt not in plots.FORMATS:
        raise BadInput(f"--format {fmt}: choose one of {', '.join(plots.FORMATS)}")
    if not 10 <= dpi <= 1200:
        raise BadInput(f"--dpi {dpi}: choose a resolution from 10 to 1200")
    each = [seed_runs(run) for run in runs]
    functions = [replot_function(run_command(run)) for group in each for run in group]
    created = [run for run in runs if lock(run)]  # a --seeds directory's lock is its own
    done = []
    for run, function in zip([r for group in each for r in group], functions, strict=True):
        try:
            with plots.figure_format(cast(plots.Format, fmt), dpi) as drawn:
                function(run)
        except BadInput:
            release_run_locks()
            for path in created:
                (path / LOCK_FILE).unlink(missing_ok=True)
            raise
        done.append((run, list(dict.fromkeys(drawn.written))))
    return done
