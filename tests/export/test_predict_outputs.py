"""predict refuses what it cannot honestly score: inputs beyond the model's dtype, and outputs
(of an altered ONNX graph, or driven to inf/NaN) that are not what the signature says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, invoke
from export_support import needs_onnx, smoke_runs

from spectral_cli.core.registry import family_names, get_family
from spectral_cli.export.source import load


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def float_input_shape(run: Path) -> tuple[int, ...] | None:
    """A 3-example shape of the array a user passes (raw or model input), if it is real."""
    loaded = load(run / "model.safetensors", torch.device("cpu"))
    raw = loaded.signature.raw
    spec = loaded.input
    if raw is not None:
        from spectral_cli.export.specs import resolve

        spec = resolve(raw.spec, loaded.info, loaded.cfg, spec.dtype)
    if not spec.dtype.is_floating_point and raw is None:
        return None
    return (3, *(d for d in spec.shape if d is not None))


@pytest.mark.parametrize("family", family_names())
def test_input_beyond_float32_is_refused_or_harmless(
    runner, runs: dict[str, Path], tmp_path: Path, family: str
) -> None:
    """1e308 is finite in float64 but inf in float32: the model answered NaN, exit 0."""
    shape = float_input_shape(runs[family])
    if shape is None:
        pytest.skip(f"{family} takes integer input")
    x = tmp_path / "x.npy"
    np.save(x, np.full(shape, 1e308))
    out = tmp_path / "p.npz"
    result = invoke(runner, "predict", runs[family], "--input", x, "--out", out)
    if result.exit_code == 0:  # token models clamp raw signals before quantizing
        with np.load(out) as got:
            assert all(np.isfinite(got[k]).all() for k in got.files if got[k].dtype.kind == "f")
        return
    assert_one_line_error(result, 2)
    assert "range" in result.stderr or "inf or NaN" in result.stderr, result.stderr
    assert not out.exists()


def classifier_with_float_input(runs: dict[str, Path]) -> str:
    return next(
        f
        for f in family_names()
        if get_family(f).export.kind == "classifier" and get_family(f).export.input.dtype != "int64"
    )


@needs_onnx
@pytest.mark.parametrize("change", ["extra output", "wrong width", "wrong rank", "string"])
def test_altered_onnx_outputs_are_exit_2(
    runner, runs: dict[str, Path], tmp_path: Path, change: str
) -> None:
    """A graph with the export's metadata whose outputs differ: exit 3 with internal text, or
    (a 40-class output under 10-class metadata) scored, before."""
    import onnx
    from onnx import TensorProto, helper

    family = classifier_with_float_input(runs)
    real = tmp_path / "real.onnx"
    done = invoke(runner, "export", runs[family], "--format", "onnx", "--out", real)
    assert done.exit_code == 0, done.output
    model = onnx.load(str(real))
    graph_in = model.graph.input[0]
    name_in, name_out = graph_in.name, model.graph.output[0].name
    width = graph_in.type.tensor_type.shape.dim[1].dim_value
    nodes = [helper.make_node("Identity", [name_in], ["wide"])]
    outs = [helper.make_tensor_value_info("wide", TensorProto.FLOAT, ["batch", width])]
    if change == "extra output":  # the real graph plus a second output
        nodes += [helper.make_node("Identity", [name_in], ["extra"])]
        outs += [helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["batch", width])]
        nodes = [*model.graph.node, nodes[-1]]
        outs = [*model.graph.output, outs[-1]]
    elif change == "wrong rank":
        nodes += [helper.make_node("Flatten", ["wide"], ["flat"], axis=0)]
        outs = [helper.make_tensor_value_info("flat", TensorProto.FLOAT, [1, None])]
    elif change == "string":
        nodes += [helper.make_node("Cast", ["wide"], ["text"], to=TensorProto.STRING)]
        outs = [helper.make_tensor_value_info("text", TensorProto.STRING, ["batch", width])]
    graph = helper.make_graph(
        nodes,
        "altered",
        [graph_in],
        outs,
        initializer=list(model.graph.initializer) if change == "extra output" else [],
    )
    altered = helper.make_model(graph, opset_imports=model.opset_import)
    altered.ir_version = model.ir_version
    altered.metadata_props.extend(model.metadata_props)
    path = tmp_path / "altered.onnx"
    onnx.save(altered, str(path))
    assert name_out  # the signature's output name exists in the real graph
    x = tmp_path / "x.npz"
    np.savez(x, x=np.zeros((4, width), dtype=np.float32), y=np.zeros(4, dtype=np.int64))
    result = invoke(
        runner, "predict", path, "--input", x, "--model-input", "--out", tmp_path / "p.npz"
    )
    assert_one_line_error(result, 2)
    assert "altered" in result.stderr, result.stderr
    assert not (tmp_path / "p.npz").exists()
