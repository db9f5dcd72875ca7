"""``spectral train spectra-lstm`` (issue 7): the four-way comparison, checkpoints, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import StopAfter, assert_one_line_error, invoke, read_report
from safetensors import safe_open
from safetensors.torch import load_file

from spectral_cli.core.errors import Interrupted
from spectral_cli.core.pipeline import run_experiment
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.core.signals import StopFlag

SETS = [
    "train.steps=4",
    "train.eval_every=2",
    "train.batch_size=8",
    "data.n_val=8",
    "data.n_test=8",
    "data.verify_windows=4",
    "data.windows=2",
    "model.window=4",
]
TINY = [a for s in SETS for a in ("--set", s)]


def family_of(path: Path) -> str:
    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata()["spectral.family"]


def test_compare_tiny_budget(tmp_path: Path, runner) -> None:
    out = tmp_path / "cmp"
    result = invoke(runner, "train", "spectra-lstm", "--compare", *TINY, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    report = read_report(out)
    models = report["models"]
    assert list(models) == ["exact", "perturbed", "random", "standard"]
    assert report["data"]["window"] == 4
    for init, m in models.items():
        ex = m["extras"]
        assert ex["hidden_size"] == 11 and ex["steps"] == 4
        assert [h["step"] for h in m["history"]] == [2, 4]
        assert "train_acc" not in m["history"][0] and "val_acc" not in m["metrics"]
        assert m["selection"]["kept"] == "last" and m["selection"]["metric"] == "val_loss"
        assert set(ex["drift_from_init"]) == {"gen", "sum", "prod", "spec", "all"}
        assert ex["drift_from_init"]["spec"] is None  # the construction's spec block is empty
        assert (out / init / "spectra_lstm.safetensors").is_file()
        assert (out / init / "weight_hh.png").is_file()
        assert m["metrics"]["test_nmse"] >= 0 and ex["verify"]["windows"] == 4
    assert (out / "models" / "standard.safetensors").is_file()
    # the run's training checkpoint is not what verify-lstm reads: the message names one that is
    wrong = invoke(runner, "verify-lstm", "--checkpoint", out / "model.safetensors", "--no-plots")
    assert_one_line_error(wrong, 2)
    assert f"--checkpoint {out / 'exact' / 'spectra_lstm.safetensors'}" in wrong.stderr
    # normalized MSE: the construction starts at rounding level, random models at O(1)
    assert models["exact"]["extras"]["step0_val_nmse"] < 1e-25
    assert 1e-12 < models["perturbed"]["extras"]["step0_val_nmse"] < 1e-2
    for name in ("random", "standard"):
        assert models[name]["extras"]["step0_val_nmse"] > 0.05
        assert models[name]["extras"]["distance_to_construction"]["all"] > 0.5
    for name in ("curves.png", "state.safetensors", "model.safetensors", "config.yaml"):
        assert (out / name).is_file()
    # every checkpoint can be handed to verify-lstm; untrained-to-exactness ones fail (exit 1)
    assert family_of(out / "exact" / "spectra_lstm.safetensors") == "spectra-lstm"
    assert family_of(out / "standard" / "spectra_lstm.safetensors") == "spectra-lstm-standard"
    for name in ("random", "standard"):
        res = invoke(
            runner,
            "verify-lstm",
            "--checkpoint",
            out / name / "spectra_lstm.safetensors",
            "--out",
            tmp_path / f"v-{name}",
            "--no-plots",
            "-q",
        )
        assert_one_line_error(res, 1)
    assert read_report(tmp_path / "v-standard")["cell"].startswith("nn.LSTM")


def test_sgd_keeps_the_construction_and_verify_passes(tmp_path: Path, runner) -> None:
    """At the construction the gradient is at rounding level: SGD does not move it (Adam would,
    since it normalises the gradient; see docs/results/spectra-lstm.md)."""
    out = tmp_path / "sgd"
    args = [
        "train",
        "spectra-lstm",
        "--init",
        "exact",
        *TINY,
        "--set",
        "train.optimizer=sgd",
        "--json",
        "--out",
        out,
    ]
    result = invoke(runner, *args)
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"].values()
    verify = model["extras"]["verify"]
    assert verify["passed"] and verify["max_error"] < 1e-12
    assert model["metrics"]["test_nmse"] < 1e-25
    ckpt = out / "exact" / "spectra_lstm.safetensors"
    res = invoke(runner, "verify-lstm", "--checkpoint", ckpt, "--out", tmp_path / "v", "--no-plots")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("stop_after", [7])  # model 1 done, model 2 cut mid-way (--compare)
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path: Path, stop_after: int) -> None:
    cfg = resolve_train_config(
        "spectra-lstm", None, [*SETS, "train.compare=true", "train.steps=6"], seed=3
    )
    device = torch.device("cpu")
    full = run_experiment(cfg, _mk(tmp_path / "full"), device)
    cut = _mk(tmp_path / "cut")
    flag = StopFlag()
    with pytest.raises(Interrupted, match="SIGTERM"):
        run_experiment(cfg, cut, device, observer=StopAfter(flag, stop_after), stop=flag)
    resumed = run_experiment(cfg, cut, device, resume=True)
    assert resumed.resumed
    for init in ("exact", "perturbed", "random", "standard"):
        a = load_file(str(tmp_path / "full" / init / "spectra_lstm.safetensors"))
        b = load_file(str(cut / init / "spectra_lstm.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), init
    for init in full.models:
        a, b = full.models[init], resumed.models[init]
        assert a.metrics == b.metrics
        assert [h["val_loss"] for h in a.history] == [h["val_loss"] for h in b.history]


def _mk(path: Path) -> Path:
    path.mkdir()
    return path


def test_resume_may_extend_steps(tmp_path: Path, runner) -> None:
    base = ["train", "spectra-lstm", "--init", "random", *TINY, "--seed", "5", "-q"]
    assert invoke(runner, *base, "--out", tmp_path / "a").exit_code == 0
    more = ["train", "spectra-lstm", "--set", "train.steps=6", "--resume", "--out", tmp_path / "a"]
    result = invoke(runner, *more, "-q")
    assert result.exit_code == 0, result.output
    assert invoke(runner, *base, "--set", "train.steps=6", "--out", tmp_path / "b").exit_code == 0
    a = load_file(str(tmp_path / "a" / "random" / "spectra_lstm.safetensors"))
    b = load_file(str(tmp_path / "b" / "random" / "spectra_lstm.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["step"] for h in read_report(tmp_path / "a")["history"]] == [2, 4, 6]
    # anything but the length is refused on --resume
    other = ["train", "spectra-lstm", "--set", "train.lr=0.1", "--resume", "--out", tmp_path / "a"]
    assert_one_line_error(invoke(runner, *other), 2)


def test_bad_training_options_exit_2(tmp_path: Path, runner) -> None:
    for args in (
        ["--init", "bogus"],
        ["--window", "1"],
        ["--set", "data.limit=10"],
        ["--set", "train.epochs=3"],
        ["--set", "model.dtype=float16"],
    ):
        out = tmp_path / "x"
        result = invoke(runner, "train", "spectra-lstm", *args, "--out", out)
        assert_one_line_error(result, 2)
