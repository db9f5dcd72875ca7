"""harmony-score on a run's checkpoint agrees with the run's own report: same invalid set by
default (the report says which), and the run's sparse-autoencoder baseline is scored too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import invoke, read_report

from spectral_cli.core.registry import family_names, get_family


@pytest.fixture(scope="module")
def run_with_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    family = next(f for f in family_names() if get_family(f).export.kind == "autoencoder")
    out = tmp_path_factory.mktemp("hae") / "run"
    sets = [a for s in get_family(family).smoke for a in ("--set", s)]
    args = ["train", family, *sets, "--set", "model.baseline=sae", "--out", out, "--quiet"]
    result = invoke(CliRunner(), *args)
    assert result.exit_code == 0, result.output
    return out


def test_checkpoint_scores_agree_with_the_training_report(
    runner, run_with_baseline: Path, tmp_path: Path
) -> None:
    """The report said AUROC 0.9643, harmony-score 0.9635 (another invalid-signal seed); the
    baseline's checkpoint was refused (exit 2)."""
    trained = read_report(run_with_baseline)["models"]
    files = {name: m["file"] for name, m in trained.items()}
    assert len(files) == 2
    for name, file in files.items():
        result = invoke(
            runner,
            "harmony-score",
            "--checkpoint",
            run_with_baseline / file,
            "--out",
            tmp_path / name,
            "--json",
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        # the same model, signals and invalid set through the same detector: equal to rounding
        assert report["auroc"] == pytest.approx(trained[name]["metrics"]["test_auroc"], abs=1e-9)
        assert "run's own" in report["invalid_set"]


def test_an_explicit_seed_draws_another_set_and_says_so(
    runner, run_with_baseline: Path, tmp_path: Path
) -> None:
    result = invoke(
        runner,
        "harmony-score",
        "--checkpoint",
        run_with_baseline / "model.safetensors",
        "--seed",
        "0",
        "--out",
        tmp_path / "s",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["invalid_set"] == "drawn with --seed 0" and report["config"]["invalid_seed"] == 0
