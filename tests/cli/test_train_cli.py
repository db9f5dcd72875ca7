"""``spectral train`` end to end through the CLI: files, report schema, --json, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import TINY, invoke, read_report
from safetensors import safe_open
from safetensors.torch import load_file

REPORT_KEYS = [
    "schema_version",
    "command",
    "family",
    "config",
    "seed",
    "device",
    "params.total",
    "params.embedding",
    "metrics.test_acc",
    "metrics.val_acc",
    "metrics.train_acc",
    "selection.best_epoch",
    "selection.metric",
    "timing.torch_threads",
    "history",
    "timing.total_seconds",
    "versions",
]


def lookup(obj: dict, dotted: str):
    for part in dotted.split("."):
        obj = obj[part]
    return obj


@pytest.mark.parametrize("family", ["hpe", "standard", "factorized"])
def test_train_writes_the_run_directory(trained_run, family: str) -> None:
    run = trained_run(family)  # train FAMILY <smoke = TINY> --seed 0 --out DIR --quiet
    assert run.args[2:-2] == TINY
    out = run.out
    # --quiet silences stderr only; the one-line result still goes to stdout
    assert run.stderr == ""
    assert run.stdout.count("\n") == 1 and run.stdout.rstrip().endswith(f"-> {out}")
    report = read_report(out)
    for key in REPORT_KEYS:
        lookup(report, key)
    assert report["family"] == family and report["command"] == "train"
    assert (
        report["params"]["total"] == {"hpe": 80138, "standard": 86538, "factorized": 83914}[family]
    )
    assert len(report["history"]) == 2
    assert set(report["history"][0]) >= {"loss", "train_acc", "val_acc", "seconds"}
    # the reported accuracies belong to the best-validation epoch
    best = report["history"][report["selection"]["best_epoch"] - 1]
    assert best["val_acc"] == max(h["val_acc"] for h in report["history"])
    assert report["metrics"]["val_acc"] == pytest.approx(best["val_acc"])
    files = {"model.safetensors", "report.json", "config.yaml", "state.safetensors", "curves.png"}
    files |= {"metrics.jsonl"}  # one line per epoch, flushed as the run goes
    if (out / "tensorboard").is_dir():  # the shared runs log to TensorBoard where installed
        files |= {"tensorboard"}
    if family == "hpe":
        files |= {"hpe_embedding.png", "hpe_frequencies.png"}
    assert files <= {p.name for p in out.iterdir()}
    assert set(report["files"].values()) == files  # the report lists what the run wrote
    with safe_open(str(out / "model.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
    assert meta["spectral.family"] == family
    assert json.loads(meta["spectral.config"])["train"]["epochs"] == 2
    assert meta["spectral.version"]
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["family"] == family and saved["data"]["limit"] == 200


def test_json_prints_only_the_report_on_stdout(runner, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke(runner, "train", "hpe", *TINY, "--out", out, "--json", "--verbose")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == read_report(out)
    assert "epoch 1" in result.stderr  # logs go to stderr


def test_same_seed_same_weights_different_seed_different(
    runner, tmp_path: Path, trained_run
) -> None:
    shared = trained_run("hpe")  # TINY, seed 0
    runs = {"a": load_file(str(shared.out / "model.safetensors"))}
    for name, seed in [("b", 0), ("c", 4)]:
        out = tmp_path / name
        assert (
            invoke(
                runner, "train", "hpe", *TINY, "--seed", seed, "--device", "cpu", "--out", out, "-q"
            ).exit_code
            == 0
        )
        runs[name] = load_file(str(out / "model.safetensors"))
    assert all(runs["a"][k].equal(runs["b"][k]) for k in runs["a"])
    assert not all(runs["a"][k].equal(runs["c"][k]) for k in runs["a"])


def test_user_npz_data(runner, tmp_path: Path, npz_data: Path) -> None:
    out = tmp_path / "run"
    result = invoke(
        runner,
        "train",
        "factorized",
        "--set",
        f"data.path={npz_data}",
        "--set",
        "train.epochs=2",
        "--out",
        out,
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["data"]["seq_len"] == 24 and report["data"]["num_classes"] == 3
    assert report["data"]["n_test"] == 40


def test_default_out_dir_is_under_runs(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke(runner, "train", "standard", *TINY, "-q").exit_code == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("train-standard-") and (run / "report.json").is_file()
