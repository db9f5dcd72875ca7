"""The two subcommands' shell: listed in --help, help without torch, shared options, config
layering of their own options, and one-line errors even when the exporter fails loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from export_support import needs_onnx, smoke_runs
from helpers import (
    assert_help_imports_none,
    assert_one_line_error,
    declared_in_options,
    invoke,
)

SHARED = [
    "--config",
    "--set",
    "--device",
    "--seed",
    "--out",
    "--json",
    "--quiet",
    "--verbose",
    "--overwrite",
    "--print-config",
]


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def test_help_lists_export_and_predict_with_the_shared_options(runner) -> None:
    import typer

    from spectral_cli.cli.main import app

    top = invoke(runner, "--help").stdout
    assert "export" in top and "predict" in top and "not available yet" not in top
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("export", "predict"):
        params = {opt: p for p in commands[name].params for opt in p.opts}
        declared = declared_in_options(name)
        for opt in SHARED:
            assert params[opt].name in declared, (name, opt)


def test_help_of_export_and_predict_imports_no_torch() -> None:
    assert_help_imports_none(["export", "--help"], ["predict", "--help"])


def test_options_layer_config_set_and_flags(runner, tmp_path: Path) -> None:
    cfg = tmp_path / "export.yaml"
    cfg.write_text("format: safetensors\ndtype: bfloat16\ntol: 0.5\n")
    result = invoke(
        runner,
        "export",
        tmp_path,
        "--config",
        cfg,
        "--set",
        "tol=0.25",
        "--opset",
        "18",
        "--seed",
        "3",
        "--print-config",
    )
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown == {
        "format": "safetensors",
        "model": None,
        "opset": 18,
        "tol": 0.25,
        "dtype": "bfloat16",
        "seed": 3,
    }
    refused = invoke(runner, "predict", tmp_path, "--seed", "1", "--input", cfg)
    assert_one_line_error(refused, 2)
    assert "--seed" in refused.stderr
    bad = invoke(runner, "predict", tmp_path, "--engine", "tensorflow", "--input", cfg)
    assert_one_line_error(bad, 2)
    assert "--engine" in bad.stderr


@needs_onnx
def test_an_operator_without_onnx_form_is_one_line_in_a_real_process(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "spectral_cli",
            "export",
            str(runs["hpe"]),
            "--format",
            "onnx",
            "--opset",
            "13",
            "--out",
            str(tmp_path / "m.onnx"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--opset 13" in lines[0]
    assert done.stdout == "" and not (tmp_path / "m.onnx").exists()
    assert not list(tmp_path.glob(".*.tmp"))
