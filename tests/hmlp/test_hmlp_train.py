"""``spectral train hmlp`` / ``mlp`` end to end: files, extras, --compare, data sets, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import TINY, StopAfter, assert_one_line_error, invoke, read_report
from safetensors.torch import load_file

from spectral_cli.core.errors import Interrupted
from spectral_cli.core.pipeline import run_experiment
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.core.signals import StopFlag

SMALL = [*TINY, "--set", "model.hidden=[32,16]"]


@pytest.mark.parametrize("family", ["hmlp", "mlp"])
def test_train_writes_run_with_frequency_tables(runner, tmp_path: Path, family: str) -> None:
    out = tmp_path / "run"
    result = invoke(runner, "train", family, *TINY, "--seed", "0", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    report = read_report(out)
    # 40 -> 512 -> BN -> 256 -> BN -> 10 on MNIST-1D
    assert report["params"]["total"] == 40 * 512 + 512 + 1024 + 512 * 256 + 256 + 512 + 2570
    assert report["data"]["input_size"] == 40 and "vocab_size" not in report["data"]
    assert len(report["history"]) == 2 and report["metrics"]["test_acc"] is not None
    tables = report["extras"]["frequency_tables"]
    assert [t["max_freq"] for t in tables] == [10.0, 10.0]  # the preset study's default
    first = tables[0]["table"]
    assert [r["frequency"] for r in first] == list(range(1, 11))
    assert first[-1] == pytest.approx(
        {
            "frequency": 10.0,
            "neurons": "9-511",
            "count": 503,
            "init_scale": first[-1]["init_scale"],
            "grad_scale": first[-1]["grad_scale"],
        }
    )
    harmonic = family == "hmlp"
    assert tables[0]["activation"] == ("harmonic" if harmonic else "relu")
    assert first[0]["grad_scale"] == pytest.approx(1 / 1.1 if harmonic else 1.0)
    assert (first[0]["init_scale"] > 1.5) is harmonic
    files = {p.name for p in out.iterdir()}
    assert {"curves.png", "model.safetensors", "state.safetensors"} <= files
    # a ReLU MLP's neurons share one activation: no activations figure of five equal curves
    assert ("activations.png" in files) is harmonic
    frequencies = load_file(str(out / "model.safetensors"))["features.0.frequencies"].tolist()
    assert frequencies[:11] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]


def test_compare_trains_both_with_the_same_seed(runner, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke(runner, "train", "hmlp", *SMALL, "--seed", "4", "--compare", "--out", out)
    assert result.exit_code == 0, result.output
    assert "| mlp: test acc" in result.stdout
    report = read_report(out)
    assert list(report["models"]) == ["hmlp", "mlp"]
    sub = report["models"]["mlp"]
    assert sub["family"] == "mlp" and sub["file"] == "models/mlp.safetensors"
    assert report["files"]["model:mlp"] == "models/mlp.safetensors"
    assert (out / "models" / "mlp.safetensors").is_file()
    assert (out / "states" / "mlp.safetensors").is_file()
    assert sub["seed"] == 4 and sub["metrics"]["test_acc"] is not None
    assert report["models"]["hmlp"]["metrics"] == report["metrics"]
    alone = tmp_path / "alone"  # the compared mlp is exactly a standalone mlp run with that seed
    assert (
        invoke(runner, "train", "mlp", *SMALL, "--seed", "4", "--out", alone, "-q").exit_code == 0
    )
    a, b = (
        load_file(str(alone / "model.safetensors")),
        load_file(str(out / "models" / "mlp.safetensors")),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_digits_and_ablation_switches(runner, tmp_path: Path) -> None:
    out = tmp_path / "digits"
    result = invoke(
        runner,
        "train",
        "hmlp",
        *SMALL,
        "--set",
        "data.name=digits",
        "--init",
        "standard",
        "--set",
        "model.freq_optimizer=false",
        "--out",
        out,
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["data"]["input_size"] == 64 and report["data"]["n_test"] == 360
    assert report["data"]["n_train"] + report["data"]["n_val"] == 200  # data.limit
    table = report["extras"]["frequency_tables"][0]
    assert table["init"] == "standard" and table["table"][0]["grad_scale"] == 1.0


def test_bad_data_keys_are_exit_2(runner, tmp_path: Path) -> None:
    for args in (
        ["train", "hpe", "--set", "data.name=digits"],  # token families keep their schema
        ["train", "hpe", "--data-dir", str(tmp_path)],
        ["train", "hmlp", "--data-dir", str(tmp_path)],  # only with data.name=mnist
        ["train", "hmlp", "--set", "model.activation=tanh"],
        ["train", "mlp", "--set", "model.max_freqs=[5]"],
    ):
        assert_one_line_error(invoke(runner, *args, "--out", tmp_path / "x", "-q"), 2)


@pytest.mark.parametrize("stop_after", [4, 14])  # inside hmlp, inside the compared mlp
def test_interrupted_compare_run_resumes_exactly(tmp_path: Path, stop_after: int) -> None:
    sets = [
        "train.epochs=2",
        "data.limit=300",
        "train.batch_size=64",
        "model.hidden=[32,16]",
        "train.compare=true",
    ]  # 270 train -> 5 steps/epoch, 10 per family
    cfg = resolve_train_config("hmlp", None, sets, seed=3)
    run = run_experiment
    device = torch.device("cpu")
    run(cfg, tmp_path / "full", device)
    cut = tmp_path / "cut"
    cut.mkdir()
    flag = StopFlag()
    with pytest.raises(Interrupted, match=str(cut)):
        run(cfg, cut, device, observer=StopAfter(flag, stop_after), stop=flag)
    report = run(cfg, cut, device, resume=True)
    for state in ("state.safetensors", "states/mlp.safetensors"):
        a = load_file(str(tmp_path / "full" / state))
        b = load_file(str(cut / state))
        keys = [k for k in a if k.startswith(("model.", "optim."))]
        assert keys and all(torch.equal(a[k], b[k]) for k in keys)
    full = read_report(tmp_path / "full")
    assert report.models["mlp"].metrics == full["models"]["mlp"]["metrics"]
    assert report.metrics == full["metrics"]


def test_frequency_optimizer_state_is_in_the_resume_state(tmp_path: Path) -> None:
    cfg = resolve_train_config(
        "hmlp", None, ["train.epochs=1", "data.limit=100", "model.hidden=[8,4]"]
    )
    run_experiment(cfg, tmp_path, torch.device("cpu"))
    from spectral_cli.core.checkpoint import load_checkpoint

    _, meta = load_checkpoint(tmp_path / "state.safetensors", "train-state")
    assert '"frequency_aware"' in meta["spectral.optimizer"]


def test_bundled_digits_are_sklearns_1797_images() -> None:
    from spectral_cli.hmlp.digits import load_digits

    d = load_digits()
    assert len(d["x"]) + len(d["x_test"]) == 1797 and d["x"].shape[1] == 64
    assert d["x"].min() == 0 and d["x"].max() == 16
    assert set(d["y"].tolist()) == set(range(10)) == set(d["y_test"].tolist())
