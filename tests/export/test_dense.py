"""``--format dense``: hpe and factorized become ordinary ``standard`` checkpoints with equal
logits on the whole test set, smaller or larger as the report says."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import invoke
from export_support import needs_onnx, report_of, smoke_runs
from safetensors import safe_open

from spectral_cli.core.checkpoint import check_state_dict, load_checkpoint
from spectral_cli.core.registry import get_family
from spectral_cli.export.source import load


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


@pytest.mark.parametrize("family", ["hpe", "factorized"])
def test_dense_is_a_standard_checkpoint_with_equal_logits_on_the_whole_test_set(
    runner, runs: dict[str, Path], tmp_path: Path, family: str
) -> None:
    out = tmp_path / "dense.safetensors"
    result = invoke(runner, "export", runs[family], "--format", "dense", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    report = report_of(result.stdout)
    # loaded the way any checkpoint loader does: family check, tensor names/shapes/dtypes
    tensors, meta = load_checkpoint(out, "standard")
    cfg = get_family("standard").config.model_validate(json.loads(meta["spectral.config"]))
    info = json.loads(meta["spectral.data_info"])
    dense = get_family("standard").build(cfg, SimpleNamespace(**info))
    check_state_dict(dense.state_dict(), tensors, out)
    dense.load_state_dict(tensors)
    dense.eval()
    source = load(runs[family] / "model.safetensors", torch.device("cpu"))
    x = source.data().test.x
    with torch.no_grad():
        diff = (dense(x) - source.model(x)).abs().max().item()
    assert diff <= 1e-5
    assert report["parity"]["cases"][0]["batch"] == len(x)  # the whole test split
    before, after = report["details"]["before"], report["details"]["after"]
    k = source.cfg.model.k
    per_token = 3 * k if family == "hpe" else k
    assert before["embedding_params"] == 256 * per_token + (0 if family == "hpe" else k * 64)
    assert after["embedding_params"] == 256 * 64
    assert after["params"] == sum(p.numel() for p in dense.parameters())
    assert after["bytes"] == sum(t.numel() * t.element_size() for t in tensors.values())
    with safe_open(str(out), "pt") as fh:
        assert json.loads(fh.metadata()["spectral.converted_from"])["family"] == family


@needs_onnx
def test_a_dense_checkpoint_exports_to_onnx_and_predicts(
    runner, runs: dict[str, Path], tmp_path: Path
) -> None:
    dense = tmp_path / "dense.safetensors"
    assert (
        invoke(runner, "export", runs["hpe"], "--format", "dense", "--out", dense, "-q").exit_code
        == 0
    )
    onnx_file = tmp_path / "dense.onnx"
    result = invoke(runner, "export", dense, "--format", "onnx", "--out", onnx_file, "--json")
    assert result.exit_code == 0, result.output
    assert report_of(result.stdout)["family"] == "standard"
