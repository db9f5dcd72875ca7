"""Deeply nested JSON is bad input (exit 2) wherever spectral parses JSON it did not write:
the parser itself, checkpoint metadata (export, predict) and ONNX metadata (predict)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke
from export_support import needs_onnx, smoke_runs
from safetensors.torch import load_file, save_file

from spectral_cli.core.arrays import MAX_JSON_DEPTH, parse_json
from spectral_cli.core.errors import BadInput

# an escaped quote inside a string, then nesting far beyond the recursion limit
BYPASS = '["\\"", ' + "[" * 100_000 + "]" * 100_000 + "]"
JUST_TOO_DEEP = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)


@pytest.mark.parametrize(
    "text",
    [
        BYPASS,
        JUST_TOO_DEEP,
        '{"a": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1),
        "[" * 100_000 + "]" * 100_000,
        '{"k": "' + "\\\\" * 50 + '", "v": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
)
def test_deep_json_is_bad_input_not_a_recursion_error(text: str) -> None:
    with pytest.raises(BadInput, match=f"v.json nests deeper than {MAX_JSON_DEPTH} levels"):
        parse_json(text, "v.json")


def test_brackets_and_escaped_quotes_inside_strings_are_only_text() -> None:
    text = json.dumps({"note": '\\"[[[' + "[" * 500, "x": [[1, 2]]})
    assert parse_json(text, "v.json") == {"note": '\\"[[[' + "[" * 500, "x": [[1, 2]]}
    limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(limit, "v.json") is not None  # exactly the limit is fine


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def _with_meta(src: Path, dst: Path, key: str, value: str) -> Path:
    from safetensors import safe_open

    with safe_open(str(src), "pt") as fh:
        meta = dict(fh.metadata())
    meta[key] = value
    save_file(load_file(str(src)), str(dst), metadata=meta)
    return dst


@pytest.mark.parametrize("key", ["spectral.config", "spectral.data_info"])
@pytest.mark.parametrize("text", [BYPASS, JUST_TOO_DEEP], ids=["bypass", "65-deep"])
def test_deep_checkpoint_metadata_is_exit_2(
    runner, runs: dict[str, Path], tmp_path: Path, key: str, text: str
) -> None:
    bad = _with_meta(runs["hpe"] / "model.safetensors", tmp_path / "deep.safetensors", key, text)
    signals = tmp_path / "x.npy"
    signals.write_bytes(b"")  # never read: the checkpoint is refused first
    out = tmp_path / "o.safetensors"
    for args in (
        ["export", bad, "--format", "dense", "--out", out],
        ["predict", bad, "--input", signals],
    ):
        result = invoke(runner, *args)
        assert_one_line_error(result, 2)
        assert "nests deeper" in result.stderr and key in result.stderr, result.stderr
        assert not out.exists()


@needs_onnx
@pytest.mark.parametrize("key", ["spectral.config", "spectral.data_info", "spectral.export"])
def test_deep_onnx_metadata_is_exit_2(
    runner, runs: dict[str, Path], tmp_path: Path, key: str
) -> None:
    import onnx
    from onnx import TensorProto, helper
    from safetensors import safe_open

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with safe_open(str(runs["mlp"] / "model.safetensors"), "pt") as fh:
        props = {k: v for k, v in fh.metadata().items() if k.startswith("spectral.")}
    props["spectral.export"] = "{}"
    props[key] = BYPASS
    helper.set_model_props(model, props)
    path = tmp_path / "deep.onnx"
    onnx.save(model, str(path))
    signals = tmp_path / "x.npy"
    signals.write_bytes(b"")
    result = invoke(runner, "predict", path, "--input", signals)
    assert_one_line_error(result, 2)
    assert "nests deeper" in result.stderr and key in result.stderr, result.stderr
