"""What one ``spectral tune`` invocation was asked to do, and the choices its options take.

A leaf of the tuning package (stdlib only at import): the trials, the final runs, the worker
processes and the command line all read it, and it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any


class SamplerKind(str, Enum):
    """``--sampler``: Optuna's TPE (seeded) or plain random search."""

    TPE = "tpe"
    RANDOM = "random"


class PrunerKind(str, Enum):
    """``--pruner``: the median rule over earlier trials' epochs, or never prune."""

    MEDIAN = "median"
    NONE = "none"


@dataclass(frozen=True)
class TuneSettings:
    """Everything a worker process needs (picklable: only plain values)."""

    families: tuple[str, ...]
    out: Path
    storage: str
    study_name: str = "spectral"
    trials: int = 8
    timeout: float | None = None
    seed: int = 0
    sampler: str = SamplerKind.TPE.value
    pruner: str = PrunerKind.MEDIAN.value
    space_file: Path | None = None
    config_file: Path | None = None
    sets: tuple[str, ...] = ()
    final_seeds: int = 5
    workers: int = 1
    device: str = "auto"
    quiet: bool = False


def trial_config(settings: TuneSettings, family: str, params: dict[str, Any], seed: int) -> Any:
    """The family's config for ``params``: its preset, ``--config``, every ``--set``, then the
    sampled values, with the run's ``seed``."""
    from spectral_cli.core.resolve import resolve_train_config
    from spectral_cli.tuning.space import as_sets

    sets = [*settings.sets, *as_sets(params)]
    return resolve_train_config(family, settings.config_file, sets, seed=seed)
