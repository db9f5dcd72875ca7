"""Optuna storage and studies: one study per family, opened (or continued) from a storage URL.

Storage: any Optuna RDB URL. The default is a SQLite file in the run directory; SQLite is opened
with a 60 s busy timeout so several local worker processes can write to it (each waits for the
file lock instead of failing), and Optuna's heartbeat marks trials of a killed worker as failed.
For several machines point every worker at one PostgreSQL/MySQL URL. ``optuna-dashboard URL``
reads the same storage.
"""

from __future__ import annotations

from typing import Any

from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import get_family

HEARTBEAT_SECONDS = 20
GRACE_SECONDS = 90


def quiet_optuna(level: str = "WARNING") -> None:
    import logging

    import optuna

    optuna.logging.set_verbosity(getattr(logging, level))


def open_storage(url: str) -> Any:
    """An Optuna RDBStorage for ``url``; failures to open are bad input."""
    import warnings

    import optuna

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
        )
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/optuna raise many types here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"cannot open --storage {url!r} ({first[:200]})") from None


def study_name(base: str, family: str) -> str:
    return f"{base}-{family}"


def open_study(
    storage: Any, name: str, family: str, sampler: Any, pruner: Any, sets: list[str] | None = None
) -> Any:
    """Create or continue the family's study; refuse one of another family or direction, or
    one whose trials ran with other ``--set`` overrides (their values would not compare)."""
    import optuna

    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    if name in existing:
        summary = existing[name]
        wanted = direction_of(family)
        if summary.direction.name.lower() != wanted:
            raise BadInput(f"study {name!r} in the storage does not {wanted[:-1]}e the "
                           f"{family} selection metric; pass another --study-name")
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
    study.set_user_attr("spectral.family", family)
    study.set_user_attr("spectral.objective", f"validation {get_family(family).select}")
    if sets is not None:
        study.set_user_attr("spectral.sets", sets)
    return study


def direction_of(family: str) -> str:
    """``maximize`` or ``minimize``: the family's selection metric decides."""
    return "maximize" if get_family(family).mode == "max" else "minimize"


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
