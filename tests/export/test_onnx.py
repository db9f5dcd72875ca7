"""ONNX specifics: the documented graph names, dynamic batch in ONNX Runtime, the harmonic
embedding's table strategy, the missing extra, and one export in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, invoke
from export_support import needs_onnx, onnx_export, report_of, smoke_runs, train_smoke

from spectral_cli.core.errors import CheckFailed
from spectral_cli.core.registry import family_names
from spectral_cli.embeddings.hpe import HarmonicEmbedding
from spectral_cli.export.lstm import UnrolledLSTM, unroll_double_lstms
from spectral_cli.export.source import load, run_models
from spectral_cli.export.table import HarmonicTable, harmonic_table, use_table_strategy

# the names docs/export.md documents, per family: input (dtype, shape) -> outputs
NAMES = {
    "standard": ("tokens", "tensor(int64)", ["logits"]),
    "factorized": ("tokens", "tensor(int64)", ["logits"]),
    "hpe": ("tokens", "tensor(int64)", ["logits"]),
    "hmlp": ("x", "tensor(float)", ["logits"]),
    "mlp": ("x", "tensor(float)", ["logits"]),
    "hae": ("signal", "tensor(float)", ["reconstruction", "latent"]),
    "spectra-lstm": ("signal", "tensor(double)", ["spectrogram"]),  # the run's model.dtype
}


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def test_the_documented_names_cover_every_family() -> None:
    assert sorted(NAMES) == family_names()


@needs_onnx
@pytest.mark.parametrize("family", sorted(NAMES))
def test_onnx_graph_has_documented_names_and_runs_at_batch_1_and_7(
    runner, runs: dict[str, Path], tmp_path: Path, family: str
) -> None:
    import onnxruntime as ort

    out = onnx_export(runs[family]).path
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    name, dtype, outputs = NAMES[family]
    (inp,) = sess.get_inputs()
    assert inp.name == name and inp.type == dtype and inp.shape[0] == "batch"
    assert [o.name for o in sess.get_outputs()] == outputs
    assert all(o.shape[0] == "batch" for o in sess.get_outputs())
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["spectral.family"] == family and "spectral.config" in meta
    loaded = load(runs[family] / "model.safetensors", torch.device("cpu"))
    x_all = loaded.data().test.x
    for batch in (1, 7):
        x = x_all[:batch]
        got = sess.run(None, {name: x.numpy()})
        with torch.no_grad():
            want = loaded.model(x)
        want = want if isinstance(want, tuple) else (want,)
        for g, w in zip(got, want, strict=True):
            assert g.shape == tuple(w.shape) and g.shape[0] == batch
            np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=1e-5)


@needs_onnx
def test_hpe_graph_synthesizes_its_table_from_the_harmonic_parameters(
    runner, runs: dict[str, Path], tmp_path: Path
) -> None:
    import onnx

    exported = onnx_export(runs["hpe"])
    out = exported.path
    assert "table strategy" in exported.report["details"]["harmonic_embedding"]
    graph = onnx.load(str(out)).graph
    shapes = {i.name: list(i.dims) for i in graph.initializer}
    k = shapes["embedding.amplitudes"][1]
    for name in ("amplitudes", "frequencies", "phases"):
        assert shapes[f"embedding.{name}"] == [256, k]
    assert [256, 64] not in shapes.values()  # no materialized table: not the dense model
    assert "Sin" in {n.op_type for n in graph.node}


def test_table_strategy_reproduces_harmonic_embedding_and_shares_its_parameters() -> None:
    torch.manual_seed(0)
    for strategy in ("table", "rows"):
        emb = HarmonicEmbedding(256, 64, 13, strategy=strategy)
        table = harmonic_table(emb)
        assert table.amplitudes is emb.amplitudes and table.phases is emb.phases
        tokens = torch.randint(0, 256, (3, 40))
        with torch.no_grad():
            torch.testing.assert_close(table(tokens), emb(tokens), rtol=1e-5, atol=1e-6)
        j = torch.arange(64, dtype=torch.float64) / 64  # the formula, written out
        a, w, p = (t.detach().double() for t in (emb.amplitudes, emb.frequencies, emb.phases))
        direct = (a[:, :, None] * torch.sin(w[:, :, None] * j + p[:, :, None])).sum(1)
        torch.testing.assert_close(table.table().double(), direct, rtol=1e-5, atol=1e-5)


def test_table_strategy_refuses_a_module_it_does_not_reproduce() -> None:
    emb = HarmonicEmbedding(16, 8, 3)
    model = torch.nn.Sequential(emb)
    use_table_strategy(model, "0")
    assert isinstance(model[0], HarmonicTable) and model[0].amplitudes is emb.amplitudes
    other = HarmonicEmbedding(16, 8, 3)
    other.forward = lambda tokens: torch.zeros(*tokens.shape, 8)  # type: ignore[method-assign]
    with pytest.raises(CheckFailed, match="formula changed"):
        harmonic_table(other)
    with pytest.raises(CheckFailed, match="has no"):
        harmonic_table(torch.nn.Embedding(16, 8))


def test_onnx_without_the_extra_is_exit_2_naming_it(
    runner, runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    out = tmp_path / "m.onnx"
    result = invoke(runner, "export", runs["mlp"], "--format", "onnx", "--out", out)
    assert_one_line_error(result, 2)
    assert "[export]" in result.stderr and "onnxruntime" in result.stderr and not out.exists()


@needs_onnx
def test_export_in_a_real_process_prints_only_json(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "hae.onnx"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "spectral_cli",
            "export",
            str(runs["hae"]),
            "--format",
            "onnx",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    report = report_of(done.stdout)
    assert report["parity"]["passed"] and report["family"] == "hae" and out.is_file()
    assert "Traceback" not in done.stderr


@needs_onnx
@pytest.mark.parametrize("family", ["spectra-lstm", "hmlp"])
def test_every_model_of_a_compare_run_exports(
    runner, runs: dict[str, Path], tmp_path: Path, family: str
) -> None:
    run_dir = train_smoke(family, next(iter(runs.values())).parent, "train.compare=true")
    models = run_models(run_dir)
    assert len(models) > 1
    for name in models:  # spectra-lstm: exact, perturbed, random and the float64 nn.LSTM
        out = tmp_path / f"{name}.onnx"
        result = invoke(
            runner, "export", run_dir, "--model", name, "--format", "onnx", "--out", out, "--json"
        )
        assert result.exit_code == 0, (name, result.output)
        report = report_of(result.stdout)
        assert report["parity"]["passed"]
        if name == "standard":
            assert "float64_lstm" in report["details"]


def test_unrolled_lstm_reproduces_float64_nn_lstm_and_refuses_what_it_cannot() -> None:
    torch.manual_seed(0)

    class Wrap(torch.nn.Module):
        def __init__(self, lstm: torch.nn.LSTM) -> None:
            super().__init__()
            self.lstm = lstm

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(x)[0]

    model = Wrap(torch.nn.LSTM(1, 6, batch_first=True).double())
    x = torch.randn(3, 9, 1, dtype=torch.float64)
    with torch.no_grad():
        want = model(x)
    assert unroll_double_lstms(model, x) == 1 and isinstance(model.lstm, UnrolledLSTM)
    with torch.no_grad():
        torch.testing.assert_close(model(x), want, rtol=1e-12, atol=1e-12)
    assert unroll_double_lstms(Wrap(torch.nn.LSTM(1, 6, batch_first=True)), x.float()) == 0
    deep = Wrap(torch.nn.LSTM(1, 6, num_layers=2, batch_first=True).double())
    with pytest.raises(CheckFailed, match="several layers"):
        unroll_double_lstms(deep, x)


@needs_onnx
@pytest.mark.parametrize("family", ["hpe", "spectra-lstm"])
def test_dynamo_exporter_by_default_and_the_deprecated_one_below_opset_18_with_a_note(
    runner, runs: dict[str, Path], tmp_path: Path, family: str
) -> None:
    import onnx

    seen = {}
    for opset in (18, 17):
        if opset == 18:  # the default: the shared export (no --opset)
            exported = onnx_export(runs[family])
            out, report, stderr = exported.path, exported.report, exported.stderr
        else:
            out = tmp_path / f"m{opset}.onnx"
            args = ["export", runs[family], "--format", "onnx", "--out", out, "--json"]
            result = invoke(runner, *args, "--opset", str(opset))
            assert result.exit_code == 0, result.output
            report, stderr = report_of(result.stdout), result.stderr
        assert report["parity"]["passed"] and report["details"]["opset"] == opset
        imports = {o.domain: o.version for o in onnx.load(str(out)).opset_import}
        assert imports[""] == opset  # the graph has the opset asked for
        seen[opset] = (report, stderr)
    report, stderr = seen[18]
    assert report["details"]["exporter"].startswith("dynamo") and report["notes"] == []
    assert "note:" not in stderr and "Warning" not in stderr
    report, stderr = seen[17]
    assert report["details"]["exporter"].startswith("torchscript")
    notes = [line for line in stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "deprecated TorchScript exporter" in notes[0]
    assert "legacy TorchScript-based ONNX export" in notes[0]  # torch's own warning, shown
    assert report["notes"] == [notes[0].removeprefix("note: ")]
