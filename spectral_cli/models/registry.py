"""The model registry: every trainable family is registered once and found by name.

``train``, ``tune``, ``export`` and the tests iterate over :func:`family_names` without special
cases. The name → module table below is static so that listing families (``--help``) does not
import torch; the module is imported on first use and registers itself with
:func:`register_model`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spectral_cli.errors import BadInput

# family name -> module that registers it (imported lazily)
FAMILY_MODULES: dict[str, str] = {
    "standard": "spectral_cli.models.token_classifiers",
    "factorized": "spectral_cli.models.token_classifiers",
    "hpe": "spectral_cli.models.token_classifiers",
    "spectra-lstm": "spectral_cli.models.spectra_lstm",
    "hae": "spectral_cli.models.hae",
    "hmlp": "spectral_cli.models.harmonic_mlp",
    "mlp": "spectral_cli.models.harmonic_mlp",
}


@dataclass(frozen=True)
class FamilySpec:
    """A registered family: its ``model.*`` schema, a builder and what data it consumes.

    Most families are classifiers trained by the generic loop through
    :func:`spectral_cli.training.run.train_run`. A family whose experiment needs other data or
    reports (e.g. a step-based regression) passes ``run_config`` (a complete
    :class:`~spectral_cli.config.schema.RunConfig` subclass with its own sections) and
    ``runner(cfg, run_dir, device, *, resume, observer, stop) -> Report``; it must still train
    with :class:`spectral_cli.training.loop.Trainer` where the loop fits.
    """

    name: str
    config_cls: type
    build: Callable[..., Any]
    description: str
    data_kind: str = "tokens"
    artifacts: Callable[..., dict[str, str]] | None = None
    run_config: type | None = None
    runner: Callable[..., Any] | None = None
    embedding_prefix: str = "embedding."
    make_optimizer: Callable[..., Any] | None = None
    report_extras: Callable[..., dict[str, Any]] | None = None

    @property
    def preset(self) -> str:
        """File name of the family's YAML preset under ``configs/``."""
        return f"{self.name}.yaml"


_REGISTRY: dict[str, FamilySpec] = {}


def register_model(
    name: str,
    config_cls: type,
    description: str,
    data_kind: str = "tokens",
    artifacts: Callable[..., dict[str, str]] | None = None,
    run_config: type | None = None,
    runner: Callable[..., Any] | None = None,
    make_optimizer: Callable[..., Any] | None = None,
    report_extras: Callable[..., dict[str, Any]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering ``build(model_cfg, data_info) -> nn.Module`` as family ``name``.

    ``artifacts(model, run_dir) -> {label: file name}`` writes family-specific plots at the end
    of a run. ``make_optimizer(model, cfg) -> torch.optim.Optimizer`` replaces the loop's default
    Adam; ``report_extras(model, cfg) -> dict`` adds family results to the report's ``extras``.
    """

    def wrap(build: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ValueError(f"model family {name!r} registered twice")
        _REGISTRY[name] = FamilySpec(
            name, config_cls, build, description, data_kind, artifacts, run_config, runner,
            make_optimizer=make_optimizer, report_extras=report_extras,
        )
        return build

    return wrap


def family_names() -> list[str]:
    """All family names, without importing any model code."""
    return sorted(FAMILY_MODULES)


def get_family(name: str) -> FamilySpec:
    """The spec of family ``name``; an unknown name is bad input listing the known ones."""
    module = FAMILY_MODULES.get(name)
    if module is None:
        raise BadInput(f"unknown model family {name!r}; choose one of: {', '.join(family_names())}")
    if name not in _REGISTRY:
        importlib.import_module(module)
    return _REGISTRY[name]
