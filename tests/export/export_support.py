"""The export tests' shared inputs: every registered family's smoke run (the session's shared
one, ``helpers.smoke_run``), its default ONNX export, a private ``train_smoke`` for runs with
extra settings, and the ONNX availability marker.

Not a ``conftest.py``: ``tests/conftest.py`` is imported as ``conftest`` by every test module,
and a second one would shadow it. Each test module declares the ``runs`` fixture from here;
the checkpoints are cached per process, so they are trained once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

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


def smoke_runs(factory: pytest.TempPathFactory) -> dict[str, Path]:
    """family name -> the family's shared smoke run directory (``helpers.smoke_run``: trained
    once per test process through the CLI, also used by the ``trained_run`` fixture)."""
    from helpers import smoke_run

    return {name: smoke_run(name, factory).out for name in family_names()}


@dataclass(frozen=True)
class OnnxExport:
    """A smoke run exported to ONNX through the CLI (``--json``) at the default opset."""

    path: Path
    report: dict[str, Any]
    stderr: str


_ONNX: dict[Path, OnnxExport] = {}


def onnx_export(run_dir: Path) -> OnnxExport:
    """``run_dir``'s model exported to ONNX once per test process and shared: the dynamo
    exporter takes seconds per model, and the graph-name, predict-parity, format and exporter
    tests all read the same default export. Tests only read it (copy before changing)."""
    if run_dir not in _ONNX:
        from conftest import invoke
        from typer.testing import CliRunner

        out = run_dir.parent / f"{run_dir.name}-onnx" / "model.onnx"
        out.parent.mkdir(exist_ok=True)
        result = invoke(CliRunner(), "export", run_dir, "--format", "onnx", "--out", out, "--json")
        assert result.exit_code == 0, result.output
        _ONNX[run_dir] = OnnxExport(out, report_of(result.stdout), result.stderr)
    return _ONNX[run_dir]


def report_of(stdout: str) -> dict:
    return json.loads(stdout)
