"""A tune resume restores what the study started with; --set per family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import assert_one_line_error, invoke

from spectral_cli.core.errors import BadInput
from spectral_cli.tuning.settings import TuneSettings, check_sets, family_sets

TINY = ["--set", "train.epochs=2", "--set", "data.limit=300", "--set", "model.hidden=[16,8]"]


def settings(families: tuple[str, ...], *sets: str) -> TuneSettings:
    return TuneSettings(families=families, out=Path("x"), storage="", sets=sets)


def test_a_family_prefix_and_bare_keys_where_the_family_has_them() -> None:
    s = settings(("mlp", "hpe"), "mlp:train.epochs=1", "model.k=8", "train.lr=0.01")
    check_sets(s)
    assert family_sets(s, "mlp") == ["train.epochs=1", "train.lr=0.01"]
    assert family_sets(s, "hpe") == ["model.k=8", "train.lr=0.01"]
    with pytest.raises(BadInput, match="no tuned family has the key model.nope.*mlp, hpe"):
        check_sets(settings(("mlp", "hpe"), "model.nope=1"))
    with pytest.raises(BadInput, match="'hae' is not among the tuned families"):
        check_sets(settings(("mlp",), "hae:train.epochs=1"))


def test_a_resume_restores_the_settings_and_refuses_other_values(runner, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    first = invoke(
        runner,
        "tune",
        "mlp",
        "--trials",
        "1",
        "--final-seeds",
        "2",
        *TINY,
        "--out",
        out,
        "--threads",
        "1",
    )
    assert first.exit_code == 0, first.output
    saved = json.loads((out / "tune-settings.json").read_text())
    assert saved["final_seeds"] == 2 and "train.epochs=2" in saved["sets"]
    again = invoke(
        runner, "tune", "mlp", "--trials", "1", "--out", out, "--resume", "--threads", "1"
    )
    assert again.exit_code == 0, again.output
    assert "with the settings it started with" in again.stderr
    trial = next((out / "trials").glob("*/trial-0001"))
    cfg = yaml.safe_load((trial / "config.yaml").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["data"]["limit"] == 300
    report = json.loads((out / "report.json").read_text())
    assert report["final_seeds"] == 2 and report["families"]["mlp"]["test"]["n"] == 2
    refused = invoke(
        runner, "tune", "mlp", "--trials", "1", "--out", out, "--resume", "--final-seeds", "5"
    )
    assert_one_line_error(refused, 2)
    assert "--final-seeds was 2" in refused.stderr
