"""Tiny trained checkpoints of every registered family (its ``smoke`` settings), made once per
test session through the real pipeline, and the ONNX availability marker.

Not a ``conftest.py``: ``tests/conftest.py`` is imported as ``conftest`` by every test module,
and a second one would shadow it. Each test module declares the ``runs`` fixture from here;
the checkpoints are cached per process, so they are trained once.
"""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest
import torch

from spectral_cli.core.pipeline import run_experiment
from spectral_cli.core.registry import family_names, get_family
from spectral_cli.core.resolve import resolve_train_config

HAVE_ONNX = find_spec("onnx") is not None and find_spec("onnxruntime") is not None
needs_onnx = pytest.mark.skipif(
    not HAVE_ONNX,
    reason="onnx/onnxruntime are not installed: pip install -e '.[export]' "
    "(CI installs the extra, so these tests run there)",
)


def train_smoke(name: str, root: Path, *extra: str) -> Path:
    """A run directory of ``name`` trained with its smoke settings (plus ``extra`` --set items)."""
    run_dir = root / "-".join((name, *extra)).replace("=", "_").replace(".", "_")
    if (run_dir / "report.json").is_file():
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = resolve_train_config(name, None, [*get_family(name).smoke, *extra])
        run_experiment(cfg, run_dir, torch.device("cpu"), plots_enabled=False)
    finally:
        torch.set_num_threads(threads)
    return run_dir


_CACHE: dict[str, Path] = {}


def smoke_runs(factory: pytest.TempPathFactory) -> dict[str, Path]:
    """family name -> run directory with a trained ``model.safetensors`` (cached)."""
    if not _CACHE:
        root = factory.mktemp("export-runs")
        _CACHE.update({name: train_smoke(name, root) for name in family_names()})
    return dict(_CACHE)


def report_of(stdout: str) -> dict:
    return json.loads(stdout)
