"""Run directories: default naming and the refusal to clobber an existing one."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from spectral_cli.core.errors import BadInput

STATE_FILE = "state.safetensors"


def default_run_dir(command: str, name: str) -> Path:
    """``runs/<command>-<name>-<timestamp>`` relative to the working directory."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return Path("runs") / f"{command}-{name}-{stamp}"


def prepare_run_dir(
    out: Path | None, command: str, name: str, *, overwrite: bool = False, resume: bool = False
) -> Path:
    """Check and create the run directory. Nothing existing is deleted.

    An existing non-empty directory is refused unless ``overwrite`` (files are replaced one by
    one as the run writes them) or ``resume`` (which needs a saved state in it).
    """
    if overwrite and resume:
        raise BadInput("--overwrite and --resume contradict each other; pass one of them")
    if out is None:
        if resume:
            raise BadInput("--resume needs --out DIR pointing at the interrupted run")
        out = default_run_dir(command, name)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} exists and is not a directory")
    non_empty = out.is_dir() and any(out.iterdir())
    if resume:
        if not (out / STATE_FILE).is_file():
            raise BadInput(f"--resume: {out} holds no {STATE_FILE}; nothing to resume")
    elif non_empty and not overwrite:
        raise BadInput(
            f"--out {out} exists and is not empty; pass --overwrite to replace its files "
            "or --resume to continue it"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--out {out} cannot be created ({exc.strerror})") from None
    return out
