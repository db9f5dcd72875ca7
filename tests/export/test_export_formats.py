"""Every registered family in every export format, through the real CLI: supported formats
export and pass their parity check, the others exit 2 with the family's reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, invoke
from export_support import HAVE_ONNX, onnx_export, report_of, smoke_runs
from safetensors import safe_open
from safetensors.torch import load_file

from spectral_cli.core.registry import EXPORT_FORMATS, family_names, get_family

CASES = [(name, fmt) for name in family_names() for fmt in EXPORT_FORMATS]


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def test_every_family_declares_its_export_signature() -> None:
    for name in family_names():
        sig = get_family(name).export
        assert sig is not None, name
        assert sig.input.name and sig.outputs, name
        assert sig.refusal("onnx") is None and sig.refusal("safetensors") is None, name
        if sig.dense_into is None:
            assert sig.refusal("dense"), name  # a reason, not a silent no


@pytest.mark.parametrize(("family", "fmt"), CASES)
def test_export_every_family_in_every_supported_format(
    runner, runs: dict[str, Path], tmp_path: Path, family: str, fmt: str
) -> None:
    sig = get_family(family).export
    assert sig is not None
    if fmt == "onnx" and not HAVE_ONNX:
        pytest.skip("onnx/onnxruntime are not installed: pip install -e '.[export]'")
    suffix = ".onnx" if fmt == "onnx" else ".safetensors"
    out = tmp_path / f"{family}{suffix}"
    dtypes = ["float16", "bfloat16"] if fmt == "safetensors" else [None]
    for dtype in dtypes:  # bfloat16 only where float16 cannot hold the weights (and for mlp)
        if dtype == "bfloat16" and out.is_file() and family != "mlp":
            break
        reason = sig.refusal(fmt)
        if fmt == "onnx" and reason is None:  # the shared default export (tests/export)
            exported = onnx_export(runs[family])
            out, report = exported.path, exported.report
        else:
            args = ["export", runs[family], "--format", fmt, "--out", out, "--json", "--overwrite"]
            result = invoke(runner, *args, *(["--dtype", dtype] if dtype else []))
            if reason is not None:
                assert_one_line_error(result, 2)
                assert reason in result.stderr and not out.exists()
                continue
            if dtype == "float16" and result.exit_code == 2:  # a construction beyond float16
                assert_one_line_error(result, 2)
                assert "float16's range" in result.stderr and "bfloat16" in result.stderr
                assert _max_abs(runs[family] / "model.safetensors") > 65504
                continue
            assert result.exit_code == 0, result.output
            report = report_of(result.stdout)
        parity = report["parity"]
        assert parity["passed"] and parity["max_err"] <= parity["tol"]
        labels = [c["input"] for c in parity["cases"]]
        assert {"test[:1]", "random[1]", "random[7]"} <= set(labels)
        assert {c["batch"] for c in parity["cases"]} >= {1, 7}
        assert out.is_file() and report["bytes"] == out.stat().st_size
        if fmt == "safetensors":
            details = report["details"]
            metric = get_family(family).test.name
            assert details["metrics_before"][metric] is not None
            assert details["metrics_change"][metric] is not None
            with safe_open(str(out), "pt") as fh:
                assert fh.metadata()["spectral.family"] == report["family"]
            floats = {t.dtype for t in load_file(str(out)).values() if t.is_floating_point()}
            assert floats == {getattr(torch, dtype)}


def _max_abs(path: Path) -> float:
    return max(
        float(t.double().abs().max())
        for t in load_file(str(path)).values()
        if t.is_floating_point()
    )


def test_default_output_lies_next_to_the_checkpoint(runner, runs: dict[str, Path]) -> None:
    run_dir = runs["mlp"]
    result = invoke(runner, "export", run_dir, "--format", "safetensors", "--json")
    assert result.exit_code == 0, result.output
    out = run_dir / "model-float16.safetensors"
    assert report_of(result.stdout)["out"] == str(out) and out.is_file()
    again = invoke(runner, "export", run_dir, "--format", "safetensors")
    assert_one_line_error(again, 2)
    assert "--overwrite" in again.stderr
    out.unlink()


def test_exports_of_a_further_model_stay_out_of_models(
    runner, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A run's second model (``models/mlp.safetensors`` of an hmlp ``--compare`` run) exports by
    default to the run directory, not next to it in ``models/``: every ``.safetensors`` file
    there counts as one of the run's models (a ``models/mlp-float16.safetensors`` made the run
    hold three models and ``export RUN --model mlp-float16`` accept it)."""
    from export_support import train_smoke

    run_dir = train_smoke("hmlp", tmp_path_factory.mktemp("compare"), "train.compare=true")
    assert sorted(p.name for p in (run_dir / "models").iterdir()) == ["mlp.safetensors"]
    result = invoke(
        runner, "export", run_dir, "--model", "mlp", "--format", "safetensors", "--json"
    )
    assert result.exit_code == 0, result.output
    out = run_dir / "mlp-float16.safetensors"
    assert report_of(result.stdout)["out"] == str(out) and out.is_file()
    assert sorted(p.name for p in (run_dir / "models").iterdir()) == ["mlp.safetensors"]
    again = invoke(runner, "export", run_dir, "--format", "safetensors")
    assert_one_line_error(again, 2)
    assert "holds 2 models (hmlp, mlp)" in again.stderr


def test_default_export_names_follow_the_model_asked_for(
    runner, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """One rule: ``--model NAME`` names the export NAME-... for the run's primary model too
    (``--model hmlp`` wrote model-float16.safetensors while ``--model mlp`` wrote
    mlp-float16.safetensors); without --model the checkpoint's file name does."""
    from export_support import train_smoke

    run_dir = train_smoke("hmlp", tmp_path_factory.mktemp("names"), "train.compare=true")
    for name in ("hmlp", "mlp"):
        args = ["export", run_dir, "--model", name, "--format", "safetensors", "--json"]
        result = invoke(runner, *args)
        assert result.exit_code == 0, result.output
        assert report_of(result.stdout)["out"] == str(run_dir / f"{name}-float16.safetensors")
