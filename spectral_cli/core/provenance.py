"""Where a run came from: command line, times, host, threads, versions, code and data.

A run records its :class:`Provenance` once, when it starts; it travels in the resume state's
metadata so that a resumed run keeps the original block and appends a :class:`ResumeEntry` per
resume instead of rewriting it. A resume at another torch thread count is flagged: CPU results
are bit-identical only for the same count.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from spectral_cli.core.version import __version__

#: libraries whose version is recorded when the run has imported them (torch/numpy: always)
OPTIONAL_LIBRARIES = ("mnist1d", "optuna", "onnx", "onnxruntime", "scipy", "tensorboard")


def utc_now() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else the platform's word)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def used_versions(data: Any = None) -> dict[str, str]:
    """Versions of python, spectral, torch, numpy and every optional library already imported
    (``mnist1d`` also when ``data`` came from its generator through the cache)."""
    import numpy
    import torch

    out = {
        "spectral": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
    for name in OPTIONAL_LIBRARIES:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module is not None else None
        if isinstance(version, str):
            out[name] = version
    summary = data.summary() if hasattr(data, "summary") else {}
    if "mnist1d" not in out and "mnist1d" in str(summary.get("source", "")).lower():
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        with contextlib.suppress(PackageNotFoundError):
            out["mnist1d"] = dist_version("mnist1d")
    return out


def git_state(path: Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout the package runs from; ``(None, None)`` when it is not
    a git checkout (an installed wheel) or git is missing."""
    root = (path or Path(__file__)).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


def data_sha256(data: Any) -> str | None:
    """SHA-256 of the training arrays (``train.x`` then ``train.y``, raw bytes, with their
    shapes and dtypes), or ``None`` when the data has no such arrays."""
    split = getattr(data, "train", None)
    import torch

    arrays = [getattr(split, "x", None), getattr(split, "y", None)]
    tensors = [a for a in arrays if isinstance(a, torch.Tensor)]
    if len(tensors) != 2:
        return None
    digest = hashlib.sha256()
    for a in tensors:
        t = a.detach().cpu().contiguous()
        digest.update(f"{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


class Provenance(BaseModel):
    """What a run recorded when it started (``ended``: when it first finished)."""

    command_line: list[str]
    started: str
    ended: str | None = None
    host: str
    cpu: str
    torch_threads: int
    world_size: int = 1
    backend: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    data_sha256: str | None = None


class ResumeEntry(BaseModel):
    """One ``--resume`` of the run; ``threads_changed``: bit-identity no longer holds."""

    command_line: list[str]
    time: str
    torch_threads: int
    wall_seconds: float | None = None
    threads_changed: bool = False
    world_size: int | None = None  # processes of this resume (None: a state from before)


def collect(data: Any, world_size: int = 1, backend: str | None = None) -> Provenance:
    """The provenance of a run starting now in this process."""
    import torch

    commit, dirty = git_state()
    return Provenance(
        command_line=list(sys.argv),
        started=utc_now(),
        host=socket.gethostname(),
        cpu=cpu_model(),
        torch_threads=torch.get_num_threads(),
        world_size=world_size,
        backend=backend,
        versions=used_versions(data),
        git_commit=commit,
        git_dirty=dirty,
        data_sha256=data_sha256(data),
    )


def resume_entry(original: Provenance, world_size: int = 1) -> ResumeEntry:
    """The entry for a resume starting now (``wall_seconds`` is filled in at the end)."""
    import torch

    threads = torch.get_num_threads()
    return ResumeEntry(
        command_line=list(sys.argv),
        time=utc_now(),
        torch_threads=threads,
        threads_changed=threads != original.torch_threads,
        world_size=world_size,
    )


def saved_world(saved_state: Path) -> int | None:
    """The number of processes a run last ran with (its latest resume that recorded one, else
    its start), from its resume state; None when the state holds no readable provenance."""
    original, resumes = _saved(saved_state)
    if original is None:
        return None
    worlds = [r.world_size for r in resumes if r.world_size is not None]
    return worlds[-1] if worlds else original.world_size


def _saved(saved_state: Path) -> tuple[Provenance | None, list[ResumeEntry]]:
    from spectral_cli.core.arrays import parse_json
    from spectral_cli.core.checkpoint import read_metadata
    from spectral_cli.core.errors import BadInput

    try:
        meta = read_metadata(saved_state).get(PROVENANCE_KEY, "null")
        saved = parse_json(meta, f"{saved_state} provenance")
        original = Provenance.model_validate(saved["provenance"])
        resumes = [ResumeEntry.model_validate(r) for r in saved["resumes"]]
    except (BadInput, OSError, ValueError, TypeError, KeyError):
        return None, []  # unreadable (or deeper than the JSON guard allows)
    return original, resumes


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


PROVENANCE_KEY = "spectral.provenance"  # resume-state metadata: provenance + resumes, as JSON


def stamp(provenance: Provenance, resumes: list[ResumeEntry]) -> dict[str, str]:
    """The resume-state metadata that carries the run's provenance across resumes."""
    import json

    value = {"provenance": provenance.model_dump(), "resumes": [r.model_dump() for r in resumes]}
    return {PROVENANCE_KEY: json.dumps(value, sort_keys=True)}


def start(
    data: Any, saved_state: Path | None, world_size: int = 1, backend: str | None = None
) -> tuple[Provenance, list[ResumeEntry]]:
    """A new run's provenance; for a resume (``saved_state``: the primary model's resume
    state) the one saved when the run started, with a new :class:`ResumeEntry` appended. A
    state written before provenance was recorded starts a new block."""
    if saved_state is not None and saved_state.is_file():
        original, resumes = _saved(saved_state)
        if original is not None:  # else unreadable: a new block
            return original, [*resumes, resume_entry(original, world_size)]
    return collect(data, world_size, backend), []


def load_note(threads: int) -> str | None:
    """A note when the machine's 1-minute load leaves fewer free cores than ``threads``
    (measured: 2 threads on a loaded 2-core machine ran an epoch 4.7x slower than 1)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cores = cpu_count()
    free = cores - load
    if free >= threads or threads == 1:
        return None
    suggest = max(1, int(free))
    return (
        f"note: the 1-minute load average is {load:.2f} on {cores} cores, fewer free cores "
        f"than this run's {threads} torch threads; --threads {suggest} may be much faster"
    )
