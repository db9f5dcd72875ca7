"""Before ``spectral tune`` runs a trial: every option checked, a resume's settings restored,
``--out`` checked before the storage is created, then the directory created (or reused).

Refused input is exit 2 and leaves nothing behind: no run directory, no new storage file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import get_family
from spectral_cli.core.runs import RunDir
from spectral_cli.tuning.recovery import validate_study_name
from spectral_cli.tuning.settings import (
    REMEMBERED,
    SETTINGS_FILE,
    TuneSettings,
    check_sets,
    remembered,
    restore,
    trial_config,
)


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'optuna.db').resolve()}"


def validate_settings(settings: TuneSettings) -> None:
    """Fail fast (exit 2) on anything that would make every trial fail."""
    from spectral_cli.tuning.space import load_space

    if settings.sampler not in ("tpe", "random"):
        raise BadInput(f"--sampler must be tpe or random, not {settings.sampler!r}")
    if settings.pruner not in ("median", "none"):
        raise BadInput(f"--pruner must be median or none, not {settings.pruner!r}")
    if settings.trials < 0:
        raise BadInput(f"--trials must be >= 0, got {settings.trials}")
    validate_study_name(settings.study_name)
    if settings.workers < 1:
        raise BadInput(f"--workers must be >= 1, got {settings.workers}")
    if settings.final_seeds < 0:
        raise BadInput(f"--final-seeds must be >= 0, got {settings.final_seeds}")
    if len(set(settings.families)) != len(settings.families):
        raise BadInput("a family is named twice")
    if settings.timeout is not None and not (0 < settings.timeout < float("inf")):
        raise BadInput(f"--timeout must be a positive number of seconds, got {settings.timeout}")
    if not (settings.seed >= 0 and settings.seed + max(settings.final_seeds, 1) <= 2**32):
        raise BadInput(f"--seed must be in [0, 2**32 - final seeds), got {settings.seed}")
    for family in settings.families:
        spec = get_family(family)
        if spec.tunable is not None:
            raise BadInput(f"family {family!r} cannot be tuned: {spec.tunable}")
        space = load_space(family, settings.space_file)
        # the base (--config and --set, even for keys the space overrides), then each end and an
        # interior point of each range: a valid config each, or exit 2 before any trial runs
        cfg = trial_config(settings, family, {}, settings.seed)
        for key, param in space.items():
            for value in param.probes():
                trial_config(settings, family, {key: value}, settings.seed)
        spec.data(cfg)  # a missing or malformed data file is exit 2, not 8 FAILs


def resumed_settings(
    settings: TuneSettings, given: set[str], note: Callable[[str], None]
) -> TuneSettings:
    """A resume restores what the study started with (``OUT/tune-settings.json``): every
    remembered option not given again; one given again with another value is exit 2."""
    from spectral_cli.core.arrays import parse_json

    path = settings.out / SETTINGS_FILE
    if not path.is_file():
        return settings  # a study from before settings were stored: as given
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BadInput(f"--resume: {path} is not readable JSON") from None
    saved = parse_json(text, f"--resume: {path}")
    if not isinstance(saved, dict):
        raise BadInput(f"--resume: {path} is not a settings object")
    restored = restore(settings, saved, given)
    shown = [
        f"{flag} {value}"
        for flag, value in (
            ("--set", " ".join(restored.sets) or "(none)"),
            ("--final-seeds", restored.final_seeds),
            ("--sampler", restored.sampler),
            ("--pruner", restored.pruner),
            ("--space", restored.space_file or "(declared)"),
            ("--timeout", restored.timeout or "(none)"),
        )
    ]
    note(f"note: resuming {settings.out} with the settings it started with: {'; '.join(shown)}")
    return restored


def check_spaces(settings: TuneSettings, storage: Any) -> None:
    """Each family's space against its study in ``storage``, where one exists."""
    import optuna

    from spectral_cli.tuning.space import check_space, load_space
    from spectral_cli.tuning.study import study_name

    names = {s.study_name for s in optuna.get_all_study_summaries(storage, False)}
    for family in settings.families:
        name = study_name(settings.study_name, family)
        if name in names:
            study = optuna.load_study(study_name=name, storage=storage)
            check_space(study, load_space(family, settings.space_file))


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite storage URL (None: another database, or in memory)."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:
        return None  # open_storage refuses it with the reason
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def prepare_tune_dir(
    settings: TuneSettings,
    *,
    overwrite: bool,
    resume: bool,
    given: set[str] | None = None,
    note: Callable[[str], None] | None = None,
) -> TuneSettings:
    """Validate everything, then create (or reuse, with ``resume``) ``settings.out``.

    Refused input creates no directory. An empty ``settings.storage`` means the default SQLite
    file in ``out``; the returned settings name it. ``given``: the options the user typed (a
    resume restores the others).
    """
    from spectral_cli.core.runs import clean_temporaries, lock_run_dir
    from spectral_cli.tuning.study import heartbeat_settings, open_storage

    if resume and settings.out.is_dir():
        all_given = set(REMEMBERED) if given is None else given
        settings = resumed_settings(settings, all_given, note or (lambda _: None))
    check_sets(settings)
    validate_settings(settings)
    heartbeat_settings()  # a bad $SPECTRAL_TUNE_HEARTBEAT/_GRACE is refused before the directory
    out = settings.out
    if resume and overwrite:
        raise BadInput("--overwrite and --resume contradict each other; pass one of them")
    if settings.trials == 0 and not resume:
        raise BadInput("--trials 0 only continues a tuning run: pass --resume --out DIR")
    if not resume:  # --out is checked (and made) before a new storage file is created
        run_dir = RunDir.open(out, "tune", "-".join(settings.families), overwrite=overwrite)
        try:
            if settings.storage:  # an unusable URL or space is refused, nothing left
                check_spaces(settings, open_storage(settings.storage))
        except BadInput:
            run_dir.discard_if_unused()
            raise
        run_dir.write_text(SETTINGS_FILE, json.dumps(remembered(settings), indent=2) + "\n")
    else:
        if not out.is_dir():
            raise BadInput(f"--resume: {out} does not exist; nothing to continue")
        db = sqlite_file(settings.storage) if settings.storage else out / "optuna.db"
        if db is not None and not settings.storage and not db.is_file():
            raise BadInput(f"--resume: {out} holds no optuna.db; nothing to continue")
        if db is not None and db.is_file() and db.stat().st_size == 0:
            raise BadInput(
                f"--resume: {db} is empty (0 bytes), not the study's database; restore it "
                "or start a new study in another --out"
            )
        lock_run_dir(out)  # one tune process per directory (a shared study may span several)
        check_spaces(settings, open_storage(settings.storage or default_storage(out)))
        clean_temporaries(out)
    return replace(settings, storage=settings.storage or default_storage(out))
