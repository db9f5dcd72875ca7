"""``spectral predict`` on checkpoints and their ONNX exports: same classes, the family's
metrics, the training quantization, and one-line refusals of mismatched inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, invoke
from export_support import needs_onnx, onnx_export, report_of, smoke_runs, train_smoke

from spectral_cli.core.datasets.mnist1d import load_mnist1d
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import family_names, get_family
from spectral_cli.export.source import load
from spectral_cli.hmlp.data import load_vector_arrays


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return smoke_runs(tmp_path_factory)


def user_inputs(run_dir: Path, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """What a user feeds the family: raw MNIST-1D signals for token models (they quantize),
    raw features for the MLPs (they standardize), else the model input; labels or targets."""
    loaded = load(run_dir / "model.safetensors", torch.device("cpu"))
    if loaded.signature.raw is not None:
        if loaded.signature.raw.spec.name == "signal":
            arrays = load_mnist1d()
        else:
            arrays, _ = load_vector_arrays(loaded.cfg.data)
        return arrays["x_test"][:n], arrays["y_test"][:n]
    test = loaded.data().test
    return test.x[:n].numpy(), test.y[:n].numpy()


def test_token_models_quantize_raw_signals_exactly_as_training_did(
    runner, runs: dict[str, Path], tmp_path: Path
) -> None:
    arrays = load_mnist1d()
    data = tmp_path / "test.npz"
    np.savez(data, x=arrays["x_test"], y=arrays["y_test"])
    out = tmp_path / "p.npz"
    result = invoke(runner, "predict", runs["hpe"], "--input", data, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    report = report_of(result.stdout)
    trained = json.loads((runs["hpe"] / "report.json").read_text())["metrics"]
    assert report["metrics"]["acc"] == pytest.approx(trained["test_acc"], abs=1e-12)
    assert report["metrics"]["loss"] == pytest.approx(trained["test_loss"], rel=1e-4)
    assert report["input_kind"] == "signal" and report["n"] == len(arrays["y_test"])
    with np.load(out) as got:
        assert set(got.files) == {"class", "probabilities", "logits"}
        assert got["class"].dtype == np.int64 and got["probabilities"].shape == (1000, 10)
        np.testing.assert_allclose(got["probabilities"].sum(1), 1.0, rtol=1e-5)
        assert (got["class"] == got["logits"].argmax(1)).all()


@needs_onnx
@pytest.mark.parametrize("family", family_names())
def test_predict_from_checkpoint_and_from_its_onnx_export_agree(
    runner, runs: dict[str, Path], tmp_path: Path, family: str
) -> None:
    x, y = user_inputs(runs[family])
    data = tmp_path / "in.npz"
    np.savez(data, x=x, y=y)
    onnx_file = onnx_export(runs[family]).path
    reports = {}
    for engine, source in (("torch", runs[family]), ("onnxruntime", onnx_file)):
        out = tmp_path / f"{engine}.npz"
        result = invoke(
            runner, "predict", source, "--input", data, "--out", out, "--json", "--batch-size", "7"
        )
        assert result.exit_code == 0, result.output
        reports[engine] = report_of(result.stdout)
        assert reports[engine]["engine"] == engine
    with np.load(tmp_path / "torch.npz") as a, np.load(tmp_path / "onnxruntime.npz") as b:
        assert a.files == b.files
        if "class" in a.files:
            np.testing.assert_array_equal(a["class"], b["class"])
        for key in a.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5)
    kind = get_family(family).export.kind  # type: ignore[union-attr]
    expected = {
        "classifier": {"acc", "loss"},
        "autoencoder": {"mse"},
        "regression": {"mse", "nmse"},
    }[kind]
    assert set(reports["torch"]["metrics"]) == expected
    for name in expected:
        assert reports["torch"]["metrics"][name] == pytest.approx(
            reports["onnxruntime"]["metrics"][name], rel=1e-4, abs=1e-6
        )


@needs_onnx
def test_tokens_flag_and_csv_output(runner, runs: dict[str, Path], tmp_path: Path) -> None:
    from spectral_cli.embeddings.quantize import quantize

    raw = load_mnist1d()["x_test"][:20]
    np.save(tmp_path / "raw.npy", raw)
    np.save(tmp_path / "tokens.npy", quantize(raw))
    onnx_file = tmp_path / "m.onnx"
    assert (
        invoke(
            runner, "export", runs["standard"], "--format", "onnx", "--out", onnx_file, "-q"
        ).exit_code
        == 0
    )
    a = invoke(
        runner,
        "predict",
        runs["standard"],
        "--input",
        tmp_path / "raw.npy",
        "--out",
        tmp_path / "a.csv",
    )
    b = invoke(
        runner,
        "predict",
        onnx_file,
        "--input",
        tmp_path / "tokens.npy",
        "--tokens",
        "--out",
        tmp_path / "b.csv",
    )
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    header, *rows = (tmp_path / "a.csv").read_text().splitlines()
    assert header.split(",")[:3] == ["class", "probabilities_0", "probabilities_1"]
    assert len(rows) == 20 and len(header.split(",")) == 21
    other = (tmp_path / "b.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == [r.split(",")[0] for r in other[1:]]


def test_mismatched_inputs_are_exit_2_saying_the_expected_shape(
    runner, runs: dict[str, Path], tmp_path: Path
) -> None:
    def arr(name: str, a: np.ndarray, **more: np.ndarray) -> Path:
        path = tmp_path / name
        if path.suffix == ".npy":
            np.save(path, a)
        else:
            np.savez(path, **({"x": a} | more))
        return path

    signals = load_mnist1d()["x_test"][:5]
    cases = {
        ("hpe", "[batch, 40]"): ["--input", arr("short.npy", signals[:, :39])],
        ("hpe", "--tokens"): ["--input", arr("ints.npy", np.zeros((5, 40), np.int64))],
        ("hpe", "0..255"): ["--input", arr("big.npy", np.full((5, 40), 300)), "--tokens"],
        ("hpe", "integers"): ["--input", arr("floats.npy", signals), "--tokens"],
        ("hmlp", "x float32 [batch, 40]"): ["--input", arr("bad3d.npy", np.zeros((5, 4, 10)))],
        ("hae", "--model-input/--tokens applies"): [
            "--input",
            arr("x.npy", signals),
            "--model-input",
        ],
        ("hmlp", "--model-input: x float32"): ["--input", arr("x39.npy", signals[:, :39])],
        ("hmlp", "real numbers"): ["--input", arr("text.npy", np.array([["a"] * 40]))],
        ("hae", "non-finite"): ["--input", arr("nan.npy", np.full((2, 40), np.nan))],
        ("hpe", "labels"): ["--input", arr("labels.npz", signals, y=np.array([0, 1, 2, 3, 99]))],
        ("hpe", "expected [5]"): ["--input", arr("labels2.npz", signals, y=np.zeros(4, int))],
        ("spectra-lstm", "targets"): [
            "--input",
            arr("t.npz", np.zeros((3, 8)), y=np.zeros((3, 8))),
        ],
        ("hpe", "named x"): ["--input", arr("keys.npz", signals[:, :3])],
        ("hpe", "does not exist"): ["--input", tmp_path / "none.npy"],
        ("hpe", ".npz or .csv"): ["--input", arr("ok.npy", signals), "--out", tmp_path / "p.txt"],
        ("hpe", "--engine onnxruntime"): [
            "--input",
            arr("ok2.npy", signals),
            "--engine",
            "onnxruntime",
        ],
    }
    np.savez(tmp_path / "keys.npz", z=signals)  # no array under a name predict reads
    for (family, expected), args in cases.items():
        result = invoke(runner, "predict", runs[family], *args)
        assert_one_line_error(result, 2)
        assert expected in result.stderr, (family, expected, result.stderr)
    assert not list(tmp_path.glob("*predictions*"))


def test_a_run_of_several_models_needs_model_name(
    runner, runs: dict[str, Path], tmp_path: Path
) -> None:
    run_dir = train_smoke("hae", next(iter(runs.values())).parent, "model.baseline=sae")
    signals = tmp_path / "x.npy"
    np.save(signals, load_mnist1d()["x_test"][:10])
    refused = invoke(runner, "predict", run_dir, "--input", signals)
    assert_one_line_error(refused, 2)
    assert "hae" in refused.stderr and "sae" in refused.stderr and "--model" in refused.stderr
    result = invoke(
        runner,
        "predict",
        run_dir,
        "--model",
        "sae",
        "--input",
        signals,
        "--out",
        tmp_path / "sae.npz",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert report_of(result.stdout)["family"] == "hae-sae-baseline"
    exported = invoke(
        runner,
        "export",
        run_dir,
        "--model",
        "sae",
        "--format",
        "safetensors",
        "--dtype",
        "bfloat16",
        "--out",
        tmp_path / "sae.safetensors",
        "--json",
    )
    assert exported.exit_code == 0, exported.output
    assert report_of(exported.stdout)["family"] == "hae-sae-baseline"


@pytest.mark.parametrize("family", ["hmlp", "mlp"])
def test_mlps_standardize_raw_features_exactly_as_training_did(
    runner, runs: dict[str, Path], tmp_path: Path, family: str
) -> None:
    loaded = load(runs[family] / "model.safetensors", torch.device("cpu"))
    arrays, _ = load_vector_arrays(loaded.cfg.data)
    assert {"mean", "std"} <= set(loaded.info) and loaded.info["std"] > 0
    np.savez(tmp_path / "raw.npz", x=arrays["x_test"], y=arrays["y_test"])
    result = invoke(
        runner,
        "predict",
        runs[family],
        "--input",
        tmp_path / "raw.npz",
        "--out",
        tmp_path / "raw-p.npz",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = report_of(result.stdout)
    trained = json.loads((runs[family] / "report.json").read_text())["metrics"]
    assert report["input_kind"] == "features"
    assert report["metrics"]["acc"] == pytest.approx(trained["test_acc"], abs=1e-12)
    assert report["metrics"]["loss"] == pytest.approx(trained["test_loss"], rel=1e-4)
    # the standardized test split given as the model input: the same logits, bit for bit
    np.save(tmp_path / "std.npy", loaded.data().test.x.numpy())
    result = invoke(
        runner,
        "predict",
        runs[family],
        "--input",
        tmp_path / "std.npy",
        "--model-input",
        "--out",
        tmp_path / "std-p.npz",
    )
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "raw-p.npz") as a, np.load(tmp_path / "std-p.npz") as b:
        np.testing.assert_array_equal(a["logits"], b["logits"])
    # integer raw features (pixels, counts) are features too, not tokens
    np.save(tmp_path / "ints.npy", np.rint(arrays["x_test"][:10] * 10).astype(np.int64))
    result = invoke(
        runner,
        "predict",
        runs[family],
        "--input",
        tmp_path / "ints.npy",
        "--out",
        tmp_path / "i.npz",
    )
    assert result.exit_code == 0, result.output


def test_a_checkpoint_without_standardization_stats_asks_for_model_input(
    runs: dict[str, Path],
) -> None:
    loaded = load(runs["hmlp"] / "model.safetensors", torch.device("cpu"))
    raw = loaded.signature.raw
    assert raw is not None
    x = np.ones((2, 40))
    info = {k: v for k, v in loaded.info.items() if k not in ("mean", "std")}
    with pytest.raises(BadInput, match="--model-input"):
        raw.prepare(loaded.cfg, info, x)
    got = raw.prepare(loaded.cfg, {**info, "mean": 0.5, "std": 2.0}, x)
    assert got.dtype == np.float32 and np.all(got == np.float32(0.25))
