"""``spectral train FAMILY``: resolve the config, call :mod:`spectral_cli.core.pipeline`, print."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from spectral_cli.cli.flags import SEED, Flag, FlagValues, config_errors, config_flags
from spectral_cli.cli.options import (
    ConfigOpt,
    DeviceOpt,
    JsonOpt,
    LoggerOpt,
    OutOpt,
    OverwriteOpt,
    PlotsOpt,
    PrintConfigOpt,
    QuietOpt,
    ResumeOpt,
    SeedOpt,
    SetOpt,
    Shared,
    ThreadsOpt,
    VerboseOpt,
)
from spectral_cli.cli.output import emit, print_config
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import family_descriptions, family_names

# every family option is shorthand for one config key; families without the key refuse it
FAMILY_FLAGS = [
    Flag("--init", "model.init", str, "Initialization, for families that have one (model.init)."),
    Flag(
        "--window", "model.window", int, "Window length, for families that have one (model.window)."
    ),
    Flag("--baseline", "model.baseline", str, "Baseline trained in the same run (model.baseline)."),
    Flag(
        "--compare",
        "train.compare",
        bool,
        "Train the family's comparison set in one run (train.compare).",
    ),
    Flag(
        "--data-dir",
        "data.dir",
        Path,
        "Directory of user-provided data files (data.dir).",
        options={"file_okay": False},
    ),
]


def train_help() -> str:
    """The command's help: what it does and one line per family (imports no model code)."""
    width = max(len(name) for name in family_names())
    rows = "\n".join(f"{name:<{width}}  {text}" for name, text in family_descriptions().items())
    return (
        "Train a registered model family into a run directory.\n\n"
        f"Families:\n\n{rows}\n\n"
        "Example: spectral train hpe --set train.epochs=10 --out runs/hpe"
    )


@config_flags(FAMILY_FLAGS, panel="Family options")
def train(
    family: str = typer.Argument(
        ...,
        help=f"Model family: {', '.join(family_names())}.",
        autocompletion=family_names,
    ),
    seeds: str | None = typer.Option(
        None,
        "--seeds",
        metavar="SPEC",
        help="Train one run per seed (0-4, or 0,3,7) into OUT/seed-<n>/ and write "
        "OUT/summary.json and summary.md (mean, sd, 95 % CI, min, max per metric).",
    ),
    allow_world_change: bool = typer.Option(
        False,
        "--allow-world-change",
        help="With --resume: continue under another number of torchrun processes than the "
        "run last had (the result then differs from an uninterrupted run).",
    ),
    *,
    flags: FlagValues,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = None,
    out: OutOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    threads: ThreadsOpt = None,
    logger: LoggerOpt = None,
    plots: PlotsOpt = True,
    print_config: PrintConfigOpt = False,
) -> None:
    """Train a registered model family into a run directory."""
    shared = Shared.of(locals())
    import torch

    from spectral_cli.cli.progress import RichObserver
    from spectral_cli.core import distributed
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.limits import check_members
    from spectral_cli.core.metrics_log import check_loggers
    from spectral_cli.core.pipeline import run_experiment
    from spectral_cli.core.provenance import load_note
    from spectral_cli.core.registry import get_family
    from spectral_cli.core.resolve import check_world
    from spectral_cli.core.runs import RunDir
    from spectral_cli.core.signals import StopFlag, catch_signals

    if shared.print_config:
        if shared.resume:
            raise BadInput(
                "--print-config shows a new run's config; drop --resume (a run's "
                "own config is its config.yaml)"
            )
        show_config(family, resolve(family, flags, shared))
        return
    check_loggers(shared.logger)
    if seeds is not None:
        return train_seeds_command(family, seeds, flags, shared)
    dist, dev = distributed.setup(resolve_device(shared.device))  # torchrun: join the group
    notes = [note] if (note := load_note(torch.get_num_threads())) else []
    if shared.resume and shared.config is not None:
        notes.append("note: --config is ignored with --resume (the run's saved config is used)")
    cfg = None if shared.resume else resolve(family, flags, shared)  # refused before any mkdir
    data = None
    if cfg is not None:
        check_global_batch(cfg, dist.world)
        distributed.check_same(config_hash(cfg), "settings")  # before any mkdir
        data = get_family(family).data(cfg)  # a bad data file is refused before any mkdir too
        check_members(get_family(family), cfg, data.info)  # and a model beyond the size rule
    # rank 0 checks, creates and locks the run directory; the other ranks get its path
    run_dir, error = None, None
    if dist.primary:
        try:
            run_dir = RunDir.open(
                shared.out, "train", family, overwrite=shared.overwrite, resume=shared.resume
            )
        except BadInput as exc:
            error = str(exc)
    run_dir, error = distributed.broadcast_object((run_dir, error))
    if error is not None:
        raise BadInput(error)
    assert run_dir is not None
    with run_dir:  # a run that fails before writing anything leaves no directory it made
        if cfg is None:
            cfg = resolve(family, flags, shared, run_dir=run_dir.path)
            check_global_batch(cfg, dist.world)
            check_world(run_dir.path, dist.world, allow_world_change)
            distributed.check_same(config_hash(cfg), "settings")
        where = f"{dev}, {dist.world} processes" if dist.active else f"{dev}"
        header = "\n".join([*notes, f"training {family} on {where} (seed {cfg.seed}) -> {run_dir}"])
        with (
            RichObserver(
                quiet=shared.quiet or not dist.primary,
                verbose=shared.verbose,
                total_epochs=cfg.train.epochs,
                header=header,
            ) as observer,
            catch_signals(StopFlag()) as stop,
        ):
            report = run_experiment(
                cfg,
                run_dir,
                dev,
                resume=shared.resume,
                observer=observer,
                stop=stop,
                data=data,
                loggers=shared.logger,
                plots_enabled=shared.plots,
            )
    distributed.teardown()
    if dist.primary:
        emit(shared, report, f"{report.summary()} -> {run_dir}")


def config_hash(cfg: Any) -> str:
    import hashlib
    import json

    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def check_global_batch(cfg: Any, world: int) -> None:
    """Under torchrun ``train.batch_size`` is the global batch, split over the processes."""
    if cfg.train.batch_size < world:
        raise BadInput(
            f"train.batch_size {cfg.train.batch_size} is the global batch; it must "
            f"be at least the number of processes ({world})"
        )


def resolve(
    family: str,
    flags: FlagValues,
    shared: Shared,
    run_dir: Path | None = None,
    *,
    seed: int | None = None,
    config_file: Path | None = None,
) -> Any:
    """The run's config: a new run's layers, or (``run_dir``) the resumed run's saved one.

    The family options and ``--seed`` (or ``seed``: one of ``--seeds``) are applied last, as
    ``--set`` items; an error about a key one of them set names the option. ``config_file``
    stands in for ``--config`` (a multi-seed resume layers a started seed's config.yaml).
    """
    from spectral_cli.cli.output import log
    from spectral_cli.core.deprecation import deprecation_notes
    from spectral_cli.core.resolve import resolve_train_config, resume_train_config

    flags = flags.plus(SEED, shared.seed if seed is None else seed)
    sets = [*shared.sets, *flags.as_sets()]
    with (
        deprecation_notes(lambda note: log(shared, f"note: {note}")),
        config_errors(flags, f"family {family!r}", f"spectral train {family} --print-config"),
    ):
        if run_dir is not None:
            return resume_train_config(run_dir, family, sets)
        return resolve_train_config(
            family, config_file or shared.config, shared.sets, options=flags.as_sets()
        )


def show_config(family: str, cfg: Any) -> None:
    """``--print-config``: the resolved config and the parameter count of its model."""
    from spectral_cli.core.limits import check_members
    from spectral_cli.core.members import count_params
    from spectral_cli.core.registry import get_family

    fam = get_family(family)
    data = fam.data(cfg)
    check_members(fam, cfg, data.info)
    params = count_params(fam.build(cfg, data.info), fam.embedding_prefix)
    print_config(
        cfg,
        f"spectral train {family}: resolved config (pass it back with --config FILE)",
        f"parameters: {params.total}",
    )


def train_seeds_command(family: str, spec: str, flags: FlagValues, shared: Shared) -> None:
    """``--seeds``: every seed into ``OUT/seed-<n>``, then the summary (one lock on OUT)."""
    from spectral_cli.cli.progress import RichObserver
    from spectral_cli.core import distributed
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.runs import RunDir
    from spectral_cli.core.seeds import parse_seeds, seed_dir, train_seeds
    from spectral_cli.core.signals import StopFlag, catch_signals

    seeds = parse_seeds(spec)
    if shared.seed is not None:
        raise BadInput("pass --seed N for one run or --seeds SPEC for several, not both")
    if distributed.current().active or "WORLD_SIZE" in os.environ:
        raise BadInput("--seeds runs its seeds one after another; run it without torchrun")
    dev = resolve_device(shared.device)

    def config_for(seed: int, out: Path | None = None) -> Any:
        """A seed's config: resumed from its saved state, else the run's layers (on --resume
        the layers of a seed that already started, so nothing has to be typed again)."""
        if out is not None and (seed_dir(out, seed) / RunDir.STATE).is_file():
            return resolve(family, flags, shared, seed_dir(out, seed), seed=seed)
        started = sorted(out.glob("seed-*/config.yaml")) if out is not None else []
        return resolve(family, flags, shared, seed=seed, config_file=next(iter(started), None))

    if not shared.resume:
        config_for(seeds[0])  # bad settings are refused before anything is created
    out = RunDir.open(
        shared.out,
        "train",
        f"{family}-seeds",
        overwrite=shared.overwrite,
        resume=shared.resume,
        resumable="seed-*",
    )
    resumed_from = out.path if shared.resume else None
    with (
        out,
        RichObserver(quiet=shared.quiet, verbose=shared.verbose) as observer,
        catch_signals(StopFlag()) as stop,
    ):
        report = train_seeds(
            lambda seed: config_for(seed, resumed_from),
            seeds,
            out,
            dev,
            resume=shared.resume,
            observer=observer,
            stop=stop,
            loggers=shared.logger,
            plots=shared.plots,
        )
    emit(shared, report, f"{report.summary()} -> {out}")
