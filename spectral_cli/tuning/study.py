"""Optuna storage and studies: one study per family, opened (or continued) from a storage URL.

Storage: any Optuna RDB URL. The default is a SQLite file in the run directory; SQLite is opened
with a 60 s busy timeout so several local worker processes can write to it (each waits for the
file lock instead of failing), and Optuna's heartbeat marks trials of a killed worker as failed.
For several machines point every worker at one PostgreSQL/MySQL URL (``pip install
'spectral-cli[postgres]'``, ``--storage postgresql://USER:PASSWORD@HOST/DB``, opened with psycopg 3
unless psycopg2 is installed; pooled connections are checked before use); workers that start at
once on a fresh database race to create its tables, and the losers retry. A trial whose
worker died on another machine is failed once its heartbeat is ``SPECTRAL_TUNE_GRACE`` seconds
old (default 90; ``SPECTRAL_TUNE_HEARTBEAT``, default 20, is how often a running trial beats), by
the next trial any worker starts or by any ``spectral tune`` on the study. ``optuna-dashboard
URL`` reads the same storage.
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

from spectral_cli.core.credentials import mask_credentials
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import get_family

HEARTBEAT_SECONDS = 20
GRACE_SECONDS = 90
SCHEMA_RACE_TRIES = 5
TAG_WAIT_SECONDS = 10.0


def _seconds(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"${name} must be a whole number of seconds >= 1, got {raw!r}")
    return int(raw)


def heartbeat_settings() -> tuple[int, int]:
    """(heartbeat interval, grace period) in seconds: ``$SPECTRAL_TUNE_HEARTBEAT`` (default 20)
    and ``$SPECTRAL_TUNE_GRACE`` (default 90), the grace longer than the interval."""
    beat = _seconds("SPECTRAL_TUNE_HEARTBEAT", HEARTBEAT_SECONDS)
    grace = _seconds("SPECTRAL_TUNE_GRACE", max(GRACE_SECONDS, 2 * beat))
    if grace <= beat:
        raise BadInput(
            f"$SPECTRAL_TUNE_GRACE ({grace}) must exceed $SPECTRAL_TUNE_HEARTBEAT "
            f"({beat}), or live trials would be failed"
        )
    return beat, grace


def quiet_optuna(level: str = "WARNING") -> None:
    import logging

    import optuna

    optuna.logging.set_verbosity(getattr(logging, level))


class StorageUnavailable(BadInput):
    """The storage cannot be opened: bad input before a study starts, a runtime failure
    (:func:`~spectral_cli.tuning.failures.storage_errors`) once it has."""

    def __init__(self, shown: str, reason: str) -> None:
        super().__init__(f"cannot open --storage {shown!r} ({reason})")
        self.reason = reason


def open_storage(url: str) -> Any:
    """An Optuna RDBStorage for ``url``; failures to open are bad input."""
    import warnings

    import optuna

    if url.startswith("sqlite"):
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:  # a server may drop idle connections between two trials: test each before use
        engine_kwargs = {"pool_pre_ping": True}
    beat, grace = heartbeat_settings()
    shown, url = mask_credentials(url), with_driver(url)
    if url.partition("://")[2].split("/")[0].count("@") > 1:  # the driver would cut it apart
        raise BadInput(f"--storage {shown!r}: the password holds an unencoded '@'; write it as %40")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    for attempt in range(1, SCHEMA_RACE_TRIES + 1):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=beat, grace_period=grace
            )
        except Exception as exc:
            if attempt < SCHEMA_RACE_TRIES and _schema_race(exc):
                time.sleep(0.5 * attempt)  # another worker is creating the tables right now
                continue
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, ImportError) and "psycopg" in first:
                first += "; pip install 'spectral-cli[postgres]'"
            raise StorageUnavailable(shown, first[:200]) from None
    raise AssertionError("unreachable")


def with_driver(url: str) -> str:
    """``postgresql://`` (or ``postgres://``) with the ``[postgres]`` extra's psycopg 3 driver
    when psycopg2, SQLAlchemy's default for that scheme, is not installed."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return url
    if scheme == "postgresql" and importlib.util.find_spec("psycopg2") is not None:
        return url
    driver = "psycopg" if importlib.util.find_spec("psycopg") is not None else "psycopg2"
    return f"postgresql+{driver}://{rest}"


def _schema_race(exc: BaseException) -> bool:
    """Two workers creating a fresh database's tables at once: the loser gets a duplicate
    table/type error (IntegrityError or ProgrammingError); on retry the tables exist."""
    try:
        from sqlalchemy.exc import IntegrityError, ProgrammingError
    except ImportError:  # pragma: no cover - optuna depends on sqlalchemy
        return False
    return isinstance(exc, (IntegrityError, ProgrammingError))


def study_name(base: str, family: str) -> str:
    return f"{base}-{family}"


def open_study(
    storage: Any, name: str, family: str, sampler: Any, pruner: Any, sets: list[str] | None = None
) -> Any:
    """Create or continue the family's study; refuse one of another family or direction, or
    one whose trials ran with other ``--set`` overrides (their values would not compare)."""
    import optuna

    wanted = direction_of(family)
    summary = _tagged_summary(storage, name, wanted)
    if summary is not None:
        if summary.direction.name.lower() != wanted:
            raise BadInput(
                f"study {name!r} in the storage does not {wanted[:-1]}e the "
                f"{family} selection metric; pass another --study-name"
            )
        found = summary.user_attrs.get("spectral.family")
        if found != family:
            raise BadInput(
                f"study {name!r} in the storage belongs to family {found!r}, not {family!r}; "
                "pass another --study-name"
            )
        earlier = summary.user_attrs.get("spectral.sets")
        if sets is not None and earlier is not None and earlier != sets:
            raise BadInput(
                f"study {name!r} ran with --set {' '.join(earlier) or '(none)'}; continue it with "
                "the same --set values or pass another --study-name"
            )
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=direction_of(family),
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    study.set_user_attr("spectral.objective", f"validation {get_family(family).select.name}")
    if sets is not None:
        study.set_user_attr("spectral.sets", sets)
    study.set_user_attr("spectral.family", family)  # last: the tag other workers wait for
    return study


def _tagged_summary(storage: Any, name: str, direction: str) -> Any:
    """The summary of study ``name`` (None: no such study). A study that another worker created
    this instant carries its ``spectral.family`` tag a moment later: wait for it up to
    ``TAG_WAIT_SECONDS`` (two workers started at once on a new study), then take it as it is.
    A study of the other ``direction`` is returned at once (the caller refuses it)."""
    import optuna

    deadline = time.monotonic() + TAG_WAIT_SECONDS
    while True:
        found = [
            s
            for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
            if s.study_name == name
        ]
        if not found:
            return None
        summary = found[0]
        if (
            "spectral.family" in summary.user_attrs
            or summary.direction.name.lower() != direction
            or time.monotonic() >= deadline
        ):  # untagged for good: not made by spectral
            return summary
        time.sleep(0.2)


def direction_of(family: str) -> Literal["maximize", "minimize"]:
    """``maximize`` or ``minimize``: the family's selection metric decides."""
    return get_family(family).select.direction


def make_sampler(kind: str, seed: int, n_trials: int) -> Any:
    import optuna

    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = min(10, max(2, n_trials // 2))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def make_pruner(kind: str) -> Any:
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3)
    return optuna.pruners.NopPruner()
