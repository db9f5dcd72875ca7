"""Run directories: default naming, one writer at a time, and no clobbering.

A run directory is locked before it is checked or written: :meth:`RunDir.open` takes an
exclusive ``fcntl.flock`` on ``.spectral.lock`` inside it and holds it until the process exits
(or :func:`release_run_locks`). A second process asking for the same directory is refused at
once (exit 2) with the holder's pid; the OS drops the lock of a dead process, so a stale lock
file never blocks. Leftover ``.*.tmp`` files of a killed writer are removed by the next run that
takes the lock.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from spectral_cli.core.atomic import write_text_atomic
from spectral_cli.core.errors import BadInput

MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
MODELS_DIR = "models"  # further models of a run: models/<name>.safetensors
STATES_DIR = "states"  # and their resume states
LOCK_FILE = ".spectral.lock"

_HELD: dict[Path, int] = {}  # run directory -> open lock file descriptor (this process)
_SHARED: dict[Path, int] = {}  # run directories read under a shared lock (export, predict)


def default_run_dir(command: str, name: str) -> Path:
    """``runs/<command>-<name>-<timestamp>`` relative to the working directory."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return Path("runs") / f"{command}-{name}-{stamp}"


def lock_run_dir(run_dir: Path) -> None:
    """Take the run directory's exclusive lock (re-entrant within this process)."""
    import fcntl

    key = run_dir.resolve()
    if key in _HELD:
        return
    try:
        # never through a symlink (it would write a pid wherever it points) nor into a FIFO
        fd = os.open(
            run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666
        )
    except OSError as exc:
        if (run_dir / LOCK_FILE).is_symlink():
            raise BadInput(
                f"--out {run_dir}: {LOCK_FILE} is a symbolic link; remove it (spectral never "
                "writes through links)"
            ) from None
        raise BadInput(f"--out {run_dir} is not writable ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadInput(f"--out {run_dir}: {LOCK_FILE} is not a regular file; remove it")
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
    for held in (_HELD, _SHARED):
        while held:
            _, fd = held.popitem()
            with contextlib.suppress(OSError):
                os.close(fd)


def read_lock(run_dir: Path, what: str) -> None:
    """Read ``run_dir`` under a shared lock, held until the command ends: a training in
    progress (its exclusive lock) is refused, since its checkpoints change while they are
    read; and no training starts in it meanwhile. A directory without a lock file is read."""
    import fcntl

    key = run_dir.resolve()
    lock = run_dir / LOCK_FILE
    if key in _HELD or key in _SHARED or lock.is_symlink() or not lock.is_file():
        return
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return  # unreadable lock file: nothing to coordinate with
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise BadInput(
            f"{what} {run_dir} is in use by a spectral process (pid {holder}), e.g. a training "
            "in progress; wait for it to finish"
        ) from None
    _SHARED[key] = fd


def remove_if_unused(run_dir: Path) -> None:
    """Release ``run_dir``'s lock and remove the directory if nothing but the lock is in it
    (a run refused or failed before writing anything leaves no empty directory behind)."""
    fd = _HELD.pop(run_dir.resolve(), None)
    if fd is None:  # not ours: another process may hold it, never touch its lock file
        return
    with contextlib.suppress(OSError):
        if run_dir.is_dir() and not run_contents(run_dir):
            (run_dir / LOCK_FILE).unlink(missing_ok=True)  # unlinked while still locked
            run_dir.rmdir()
    with contextlib.suppress(OSError):
        os.close(fd)


#: a killed writer's temporaries: ours (core.atomic), safetensors' own (an older checkpoint)
TEMPORARIES = (".*.tmp", ".tmp??????")


def clean_temporaries(run_dir: Path) -> int:
    """Remove the temporary files a killed writer left (:data:`TEMPORARIES`; we hold the lock:
    nobody is writing). Only regular files are removed, never through a link."""
    found = [t for p in TEMPORARIES for t in run_dir.rglob(p) if t.is_file() and not t.is_symlink()]
    for tmp in found:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return len(found)


def check_fixed_names(run_dir: Path) -> None:
    """A directory (or FIFO...) where a run writes a file, or a file where it makes a folder,
    is refused when the directory is opened, not when the finished run's first write fails."""
    for name in (RunDir.CONFIG, RunDir.REPORT, MODEL_FILE, STATE_FILE, "metrics.jsonl"):
        if (path := run_dir / name).exists() and not path.is_file():
            kind = "a directory" if path.is_dir() else "not a regular file"
            raise BadInput(f"--out {run_dir}: {name} is {kind}; remove it (the run writes a file)")
    for name in (MODELS_DIR, STATES_DIR):
        if (path := run_dir / name).exists() and not path.is_dir():
            raise BadInput(f"--out {run_dir}: {name} is not a directory; remove it")


def run_contents(run_dir: Path) -> list[Path]:
    """What is in ``run_dir`` besides the lock file (a symlink named like it counts)."""
    return [p for p in run_dir.iterdir() if p.name != LOCK_FILE or p.is_symlink()]


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


@dataclass
class RunDir:
    """A run directory this process has created (or reused), locked and checked.

    Every command that writes a run directory opens it with :meth:`open` and writes its fixed
    files through it, so their names live here once: ``config.yaml``, ``report.json``,
    ``model.safetensors`` and ``state.safetensors`` of the primary model, ``models/<name>`` and
    ``states/<name>`` of further models. ``RunDir / "x.png"`` is the path of a file in it.
    Used as a context manager, a run that fails before writing anything leaves no directory it
    created (a directory the user had is never removed). The lifecycle is described in
    ``docs/architecture.md``.
    """

    path: Path
    created: bool = False

    CONFIG: ClassVar[str] = "config.yaml"
    REPORT: ClassVar[str] = "report.json"
    MODEL: ClassVar[str] = MODEL_FILE
    STATE: ClassVar[str] = STATE_FILE

    @classmethod
    def open(
        cls,
        out: Path | None,
        command: str,
        name: str,
        *,
        overwrite: bool = False,
        resume: bool = False,
        resumable: str = STATE_FILE,
    ) -> RunDir:
        """Create, lock and check the run directory. Nothing existing is deleted.

        An existing non-empty directory is refused unless ``overwrite`` (files are replaced one
        by one as the run writes them) or ``resume`` (which needs a saved state in it: a path
        matching ``resumable``). A refused directory that did not exist before is not left
        behind.
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
            check_fixed_names(out)
            if resume:
                if not any(out.glob(resumable)):
                    raise BadInput(f"--resume: {out} holds no {resumable}; nothing to resume")
            elif run_contents(out) and not overwrite:
                raise BadInput(
                    f"--out {out} exists and is not empty; pass --overwrite to replace its files "
                    "or --resume to continue it"
                )
        except BadInput:
            if not existed:
                remove_if_unused(out)
            raise
        return cls(out, created=not existed)

    # ---- paths -------------------------------------------------------------------------------
    def __truediv__(self, rel: str | Path) -> Path:
        return self.path / rel

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @staticmethod
    def model_files(index: int, name: str) -> tuple[str, str]:
        """(weights, resume state) of the run's ``index``-th model, relative to the directory:
        the primary model's are at the top, further models' under ``models/`` and ``states/``."""
        if index == 0:
            return MODEL_FILE, STATE_FILE
        return f"{MODELS_DIR}/{name}.safetensors", f"{STATES_DIR}/{name}.safetensors"

    def further_models(self) -> list[Path]:
        """The ``models/*.safetensors`` files of the run's further models."""
        folder = self.path / MODELS_DIR
        return sorted(folder.glob("*.safetensors")) if folder.is_dir() else []

    # ---- writing -----------------------------------------------------------------------------
    def write_text(self, rel: str, text: str) -> str:
        """Atomically write ``rel``; returns ``rel`` (for a report's ``files``)."""
        write_text_atomic(self.path / rel, text)
        return rel

    def write_config(self, cfg: BaseModel) -> str:
        """The resolved config as ``config.yaml`` (so the run can be repeated)."""
        from spectral_cli.core.config import dump_yaml

        return self.write_text(self.CONFIG, dump_yaml(cfg))

    def write_report(self, report: BaseModel) -> str:
        """``report.json``, atomically."""
        return self.write_text(self.REPORT, report.model_dump_json(indent=2) + "\n")

    def forget_previous_run(self, keep_models: set[str]) -> None:
        """A fresh run (maybe ``--overwrite``) leaves nothing of an earlier run behind that it
        will not write again: its report, its live logs, and further models (with their
        states) not in ``keep_models``, so ``export``/``predict`` never offer a model of an
        older run as one of this run's. Symbolic links are removed, never followed."""
        for name in (self.REPORT, "metrics.jsonl"):
            (self.path / name).unlink(missing_ok=True)
        for folder, pattern in ((MODELS_DIR, "*.safetensors"), (STATES_DIR, "*.safetensors")):
            for file in sorted((self.path / folder).glob(pattern)):
                if file.stem not in keep_models or file.is_symlink():
                    file.unlink(missing_ok=True)
        events = self.path / "tensorboard"
        if events.is_dir() and not events.is_symlink():
            for file in sorted(events.rglob("events.out.tfevents.*")):
                file.unlink(missing_ok=True)

    # ---- lifecycle ---------------------------------------------------------------------------
    def discard_if_unused(self) -> None:
        """Release the lock; remove the directory if this run created it and wrote nothing."""
        if self.created:
            remove_if_unused(self.path)

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.discard_if_unused()
