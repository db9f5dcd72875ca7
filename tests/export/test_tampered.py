"""Checkpoints that are not what they claim, options that cannot work, and a parity check
that fails: exit 2 with one line, or exit 1 with the report and no file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke
from export_support import report_of, smoke_runs
from safetensors.torch import load_file, save_file

from spectral_cli.core.registry import family_names


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def rewrite(src: Path, dst: Path, **changes: str | None) -> Path:
    """``src`` re-saved with metadata keys changed (``None`` removes one)."""
    from safetensors import safe_open

    with safe_open(str(src), "pt") as fh:
        meta = dict(fh.metadata())
    for key, value in changes.items():
        key = "spectral." + key
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    save_file(load_file(str(src)), str(dst), metadata=meta)
    return dst


def config_with(src: Path, section: str, key: str, value: object) -> str:
    from safetensors import safe_open

    with safe_open(str(src), "pt") as fh:
        cfg = json.loads(fh.metadata()["spectral.config"])
    cfg[section][key] = value
    return json.dumps(cfg)


@pytest.mark.parametrize("command", ["export", "predict"])
def test_tampered_checkpoints_are_exit_2(
    runner, runs: dict[str, Path], tmp_path: Path, command: str
) -> None:
    src = runs["hpe"] / "model.safetensors"
    signals = tmp_path / "x.npy"
    signals.write_bytes(b"")  # never read: the checkpoint is refused first
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    bare = tmp_path / "bare.safetensors"
    save_file(load_file(str(src)), str(bare))
    cases = {
        "other family": rewrite(src, tmp_path / "a.safetensors", family="standard"),
        "foreign family": rewrite(src, tmp_path / "b.safetensors", family="spectra-lstm-standard"),
        "trainer state": runs["hpe"] / "state.safetensors",
        "no family": rewrite(src, tmp_path / "c.safetensors", family=None),
        "bad config json": rewrite(src, tmp_path / "d.safetensors", config="{not json"),
        "invalid config": rewrite(
            src, tmp_path / "e.safetensors", config=config_with(src, "model", "k", -3)
        ),
        "config of other sizes": rewrite(
            src, tmp_path / "f.safetensors", config=config_with(src, "model", "k", 5)
        ),
        "data info of other sizes": rewrite(
            src,
            tmp_path / "g.safetensors",
            data_info=json.dumps({"vocab_size": 100, "seq_len": 40, "num_classes": 10}),
        ),
        "negative size in data info": rewrite(
            src,
            tmp_path / "h.safetensors",
            data_info=json.dumps({"vocab_size": -1, "seq_len": 40, "num_classes": 10}),
        ),
        "huge size in data info": rewrite(
            src,
            tmp_path / "i.safetensors",
            data_info=json.dumps({"vocab_size": 10**15, "seq_len": 40, "num_classes": 10}),
        ),
        "truncated": truncated,
        "not safetensors": garbage,
        "no metadata": bare,
        "missing": tmp_path / "nope.safetensors",
    }
    for label, path in cases.items():
        args = (
            ["export", path, "--format", "dense", "--out", tmp_path / "o.safetensors"]
            if command == "export"
            else ["predict", path, "--input", signals]
        )
        result = invoke(runner, *args)
        assert_one_line_error(result, 2)
        assert str(path) in result.stderr or "metadata" in result.stderr, (label, result.stderr)
        assert not (tmp_path / "o.safetensors").exists()
    foreign = invoke(runner, "export", cases["foreign family"], "--format", "onnx")
    assert all(name in foreign.stderr for name in family_names())


def test_forced_parity_failure_is_exit_1_with_the_report_and_no_file(
    runner, runs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "half.safetensors"
    result = invoke(
        runner,
        "export",
        runs["mlp"],
        "--format",
        "safetensors",
        "--dtype",
        "float16",
        "--tol",
        "0",
        "--out",
        out,
        "--json",
    )
    assert result.exit_code == 1, result.output
    report = report_of(result.stdout)
    assert not report["parity"]["passed"] and report["parity"]["max_err"] > 0
    assert report["parity"]["tol"] == 0 and "not written" in report["notes"][0]
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    plain = invoke(
        runner,
        "export",
        runs["mlp"],
        "--format",
        "safetensors",
        "--dtype",
        "float16",
        "--tol",
        "0",
        "--out",
        out,
    )
    assert plain.exit_code == 1 and "NOT written to" in plain.stdout  # no success words
    assert f"-> {out}" not in plain.stdout


def test_options_that_cannot_work_are_exit_2(runner, runs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = runs["mlp"]
    bad = {
        "no format": ["export", run_dir],
        "unknown format": ["export", run_dir, "--format", "tflite"],
        "dtype with onnx": ["export", run_dir, "--format", "onnx", "--dtype", "float16"],
        "wrong suffix": ["export", run_dir, "--format", "onnx", "--out", tmp_path / "m.pt"],
        "model of a file": [
            "export",
            run_dir / "model.safetensors",
            "--format",
            "onnx",
            "--model",
            "mlp",
        ],
        "unknown model": ["export", run_dir, "--format", "onnx", "--model", "nope"],
        "opset out of range": ["export", run_dir, "--format", "onnx", "--opset", "99"],
        "negative tol": ["export", run_dir, "--format", "dense", "--tol", "-1"],
        "overwrite source": [
            "export",
            run_dir / "model.safetensors",
            "--format",
            "safetensors",
            "--out",
            run_dir / "model.safetensors",
        ],
        "not a run": ["export", tmp_path, "--format", "onnx"],
        "missing source": ["export", tmp_path / "nope", "--format", "onnx"],
    }
    for label, args in bad.items():
        result = invoke(runner, *args)
        assert_one_line_error(result, 2)
        assert label and result.stderr
    assert not list(run_dir.glob("*.onnx"))
