"""Search spaces: declared per family next to its preset (``configs/<family>.space.yaml``).

A space maps dotted config keys to a distribution::

    train.lr: {type: float, low: 0.001, high: 0.01, log: true}
    model.k:  {type: int, low: 4, high: 16}
    model.strategy: {type: categorical, choices: [table, rows]}

``--space FILE.yaml`` replaces the declared space; the file either holds one such mapping (used
for every family) or one mapping per family name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from spectral_cli.core.config import presets_dir, read_yaml, validate
from spectral_cli.core.errors import BadInput
from spectral_cli.core.schema import Frozen


class ParamSpec(Frozen):
    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(default=None, gt=0)
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None or self.low > self.high:
            raise ValueError("numeric parameters need low <= high")
        if self.log and self.low <= 0:
            raise ValueError("log scale needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("'step' and 'log' cannot be combined (Optuna refuses it)")
        if self.type == "int" and self.step is not None and self.step != int(self.step):
            raise ValueError("an int parameter needs a whole-number step")
        return self

    def suggest(self, trial: Any, name: str) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(name, self.choices)
        if self.type == "int":
            step = int(self.step or 1)
            return trial.suggest_int(name, int(self.low), int(self.high), step=step, log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def probes(self) -> list[Any]:
        """Values to validate before tuning: every choice of a categorical; both ends of a
        range, and for a float range also an interior point that is not a whole number (a float
        range on an integer key passes at whole-number ends, then fails in every trial)."""
        if self.type == "categorical":
            return list(self.choices or [])
        if self.type == "int":
            return [int(self.low), int(self.high)]  # type: ignore[arg-type]
        low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
        inside = low + 0.37 * (high - low)
        if inside == round(inside):
            inside = low + 0.61 * (high - low)
        return [self.low, self.high, inside]


Space = dict[str, ParamSpec]


def parse_space(raw: Any, source: str) -> Space:
    if not isinstance(raw, dict) or not raw:
        raise BadInput(f"search space {source} must be a non-empty mapping of key: {{type, ...}}")
    space: Space = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            raise BadInput(f"search space {source}: '{key}' must be a mapping with a 'type'")
        space[str(key)] = validate(ParamSpec, spec, f"search space {source} ('{key}')")
    return space


def load_space(family: str, override: Path | None = None) -> Space:
    """The family's declared space, or the one from ``override``."""
    if override is not None:
        raw = read_yaml(override)
        per_family = {k: v for k, v in raw.items() if "." not in str(k)}
        if per_family:
            if family not in per_family:
                raise BadInput(f"search space {override} has no entry for family {family!r}")
            return parse_space(per_family[family], f"{override}:{family}")
        return parse_space(raw, str(override))
    path = presets_dir() / f"{family}.space.yaml"
    if not path.is_file():
        raise BadInput(
            f"family {family!r} declares no search space ({path.name}); pass --space FILE"
        )
    return parse_space(read_yaml(path), path.name)


def as_sets(params: dict[str, Any]) -> list[str]:
    """Sampled parameters as ``--set`` items (JSON values, so types survive the YAML parse)."""
    return [f"{key}={json.dumps(value)}" for key, value in params.items()]


def distribution(spec: ParamSpec) -> Any:
    """The Optuna distribution ``spec.suggest`` samples from."""
    import optuna.distributions as od

    if spec.type == "categorical":
        return od.CategoricalDistribution(spec.choices or [])
    if spec.type == "int":
        step = int(spec.step or 1)
        return od.IntDistribution(int(spec.low), int(spec.high), log=spec.log, step=step)  # type: ignore[arg-type]
    return od.FloatDistribution(spec.low, spec.high, log=spec.log, step=spec.step)  # type: ignore[arg-type]


def check_space(study: Any, space: Space) -> None:
    """Refuse (exit 2) a space that an existing study's trials cannot continue: a parameter
    sampled there from a distribution Optuna's storage would not accept it again with (another
    type, other categorical choices), or every new trial would fail."""
    from optuna.distributions import check_distribution_compatibility

    earlier: dict[str, Any] = {}
    for trial in study.get_trials(deepcopy=False):
        earlier.update(trial.distributions)
    for key, spec in space.items():
        if key not in earlier:
            continue
        try:
            check_distribution_compatibility(earlier[key], distribution(spec))
        except ValueError as exc:
            raise BadInput(
                f"--space: {key} was sampled as {type(earlier[key]).__name__} in study "
                f"{study.study_name!r}, which this space cannot continue ({exc}); use the "
                "study's space or pass another --study-name"
            ) from None
