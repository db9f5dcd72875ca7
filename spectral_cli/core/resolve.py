"""The config of a training run: a new run's layers, or a resumed run's saved config."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spectral_cli.core.checkpoint import load_checkpoint
from spectral_cli.core.config import (
    apply_sets,
    deep_merge,
    parse_set,
    presets_dir,
    read_yaml,
    resolve,
    validate,
)
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import get_family
from spectral_cli.core.runs import STATE_FILE
from spectral_cli.core.schema import RunConfig
from spectral_cli.core.trainer import STATE_FAMILY


def resolve_train_config(
    family: str,
    config_file: Path | None,
    sets: Iterable[str],
    seed: int | None = None,
    options: Iterable[str] = (),
) -> RunConfig:
    """Schema defaults < ``configs/<family>.yaml`` < ``--config`` < ``--set`` < ``options``
    (the command's flags in ``--set`` form) < ``--seed``."""
    spec = get_family(family)
    if config_file is not None:
        declared = read_yaml(config_file).get("family", family)
        if declared != family:
            raise BadInput(f"config file {config_file} is for family {declared!r}, not {family!r}")
    sets, options = list(sets), list(options)
    for parts, value in parse_set(
        [*sets, *options]
    ):  # the family is the command's argument, not a setting
        if parts == ["family"] and value != family:
            raise BadInput(
                f"--set family={value}: the family is {family!r} (the command's "
                f"argument); run 'spectral train {value or 'FAMILY'}' instead"
            )
    fixed: dict[str, Any] = {"family": family}
    if seed is not None:
        fixed["seed"] = seed
    return resolve(spec.config, presets_dir() / spec.preset, config_file, sets, fixed, options)


def resume_train_config(
    run_dir: Path, family: str, sets: Iterable[str], seed: int | None = None
) -> RunConfig:
    """The config saved in ``run_dir``'s state; ``--set`` may only change the run's length
    (``train.epochs``, or ``train.steps`` for step-based families)."""
    spec = get_family(family)
    _, meta = load_checkpoint(run_dir / STATE_FILE, STATE_FAMILY)
    try:
        saved = json.loads(meta.get("spectral.config", "{}"))
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise BadInput(f"--resume: {run_dir / STATE_FILE} holds no readable config")
    if saved.get("family") != family:
        raise BadInput(f"--resume: {run_dir} is a {saved.get('family')!r} run, not {family!r}")
    data = apply_sets(saved, parse_set(sets))
    if seed is not None:
        data = deep_merge(data, {"seed": seed})
    merged = validate(spec.config, data, "--set")
    a, b = merged.model_dump(mode="json"), dict(saved)
    length = ("epochs", "steps")
    a["train"] = {k: v for k, v in a["train"].items() if k not in length}
    b["train"] = {k: v for k, v in b.get("train", {}).items() if k not in length}
    if a != b:
        raise BadInput(
            "--resume may only change train.epochs (or train.steps); "
            "start a new run for other changes"
        )
    check_length(run_dir, spec, merged, meta)
    return merged


def check_length(run_dir: Path, spec: Any, cfg: RunConfig, meta: dict[str, str]) -> None:
    """A resume may extend a run, never cut it below what already ran (the saved config and
    report would claim a length the weights do not have)."""
    from spectral_cli.core.arrays import parse_json

    try:
        loop = parse_json(meta.get("spectral.loop", "{}"), f"{run_dir / STATE_FILE} loop")
        epoch, step = loop["epoch"], loop["step"]
        consistent = isinstance(epoch, int) and len(loop["history"]) == epoch
    except (BadInput, AttributeError, KeyError, TypeError, ValueError):
        consistent = False
    if not consistent or not isinstance(step, int):
        return  # the trainer refuses a tampered or unreadable loop state with its own message
    done = epoch + (step > 0)
    wanted = spec.loop(cfg).epochs
    if wanted < done:
        key = "train.steps" if spec.unit == "steps" else "train.epochs"
        raise BadInput(
            f"--resume: {run_dir} already ran {done} {spec.unit}; {key}={wanted} would cut it "
            f"short (pass {key} >= {done} to extend it, or start a new run)"
        )


def check_world(run_dir: Path, world: int, allow: bool) -> None:
    """A resume runs at the world size the run last ran at, unless ``allow``
    (``--allow-world-change``): another number of processes splits every batch differently,
    so the run no longer matches an uninterrupted one."""
    from spectral_cli.core.provenance import saved_world

    before = saved_world(run_dir / STATE_FILE)
    if before is not None and before != world and not allow:
        raise BadInput(
            f"--resume: {run_dir} ran with {before} process(es), this resume has {world}; "
            "the result would not match an uninterrupted run; start it with the same "
            "--nproc_per_node or pass --allow-world-change"
        )
