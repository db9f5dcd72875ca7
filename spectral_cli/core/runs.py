"""Run directories: default naming, one writer at a time, and no clobbering.

A run directory is locked before it is checked or written: :func:`prepare_run_dir` takes an
exclusive ``fcntl.flock`` on ``.spectral.lock`` inside it and holds it until the process exits
(or :func:`release_run_locks`). A second process asking for the same directory is refused at
once (exit 2) with the holder's pid; the OS drops the lock of a dead process, so a stale lock
file never blocks. Leftover ``.*.tmp`` files of a killed writer are removed by the next run that
takes the lock.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import tempfile
from pathlib import Path

from spectral_cli.core.errors import BadInput

STATE_FILE = "state.safetensors"
LOCK_FILE = ".spectral.lock"

_HELD: dict[Path, int] = {}  # run directory -> open lock file descriptor (this process)


def default_run_dir(command: str, name: str) -> Path:
    """``runs/<command>-<name>-<timestamp>`` relative to the working directory."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return Path("runs") / f"{command}-{name}-{stamp}"


def lock_run_dir(run_dir: Path) -> None:
    """Take the run directory's exclusive lock (re-entrant within this process)."""
    import fcntl

    key = run_dir.resolve()
    if key in _HELD:
        return
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise BadInput(f"--out {run_dir} is not writable ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise BadInput(
            f"--out {run_dir} is in use by another spectral process (pid {holder}); wait for it "
            "or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = fd


def release_run_locks() -> None:
    """Release every run-directory lock this process holds (the CLI does at command end)."""
    while _HELD:
        _, fd = _HELD.popitem()
        with contextlib.suppress(OSError):
            os.close(fd)


def remove_if_unused(run_dir: Path) -> None:
    """Release ``run_dir``'s lock and remove the directory if nothing but the lock is in it
    (a run refused or failed before writing anything leaves no empty directory behind)."""
    fd = _HELD.pop(run_dir.resolve(), None)
    if fd is None:  # not ours: another process may hold it, never touch its lock file
        return
    with contextlib.suppress(OSError):
        if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {LOCK_FILE}:
            (run_dir / LOCK_FILE).unlink(missing_ok=True)  # unlinked while still locked
            run_dir.rmdir()
    with contextlib.suppress(OSError):
        os.close(fd)


def clean_temporaries(run_dir: Path) -> int:
    """Remove ``.*.tmp`` files a killed writer left (we hold the lock: nobody is writing)."""
    removed = 0
    for tmp in run_dir.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed


def run_contents(run_dir: Path) -> list[Path]:
    """What is in ``run_dir`` besides the lock file."""
    return [p for p in run_dir.iterdir() if p.name != LOCK_FILE]


def probe_writable(folder: Path, what: str) -> None:
    """Exit 2 unless a file can be created in ``folder``: a real probe (a temporary file), since
    permission bits do not tell for root, ACLs or read-only mounts."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise BadInput(f"{what} is not writable ({exc.strerror}); choose another place") from None


def check_out_file(out: Path) -> None:
    """An output file's folder must be a directory, or creatable under the deepest existing one,
    and writable; checked before any work, and nothing is created."""
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise BadInput(f"--out {out} cannot be created ({folder} is not a directory)")
    probe_writable(folder, f"--out {out}: {folder}")


def prepare_run_dir(
    out: Path | None, command: str, name: str, *, overwrite: bool = False, resume: bool = False
) -> Path:
    """Create, lock and check the run directory. Nothing existing is deleted.

    An existing non-empty directory is refused unless ``overwrite`` (files are replaced one by
    one as the run writes them) or ``resume`` (which needs a saved state in it). A refused
    directory that did not exist before is not left behind.
    """
    if overwrite and resume:
        raise BadInput("--overwrite and --resume contradict each other; pass one of them")
    if out is None:
        if resume:
            raise BadInput("--resume needs --out DIR pointing at the interrupted run")
        out = default_run_dir(command, name)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} exists and is not a directory")
    if resume and not out.is_dir():
        raise BadInput(f"--resume: {out} does not exist; nothing to resume")
    existed = out.is_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--out {out} cannot be created ({exc.strerror})") from None
    try:
        probe_writable(out, f"--out {out}")  # before anything in it is replaced
        lock_run_dir(out)
        clean_temporaries(out)
        if resume:
            if not (out / STATE_FILE).is_file():
                raise BadInput(f"--resume: {out} holds no {STATE_FILE}; nothing to resume")
        elif run_contents(out) and not overwrite:
            raise BadInput(
                f"--out {out} exists and is not empty; pass --overwrite to replace its files "
                "or --resume to continue it"
            )
    except BadInput:
        if not existed:
            remove_if_unused(out)
        raise
    return out
