"""``spectral tune`` drives every registered family the same way (iterates the registry)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke

from spectral_cli.core import registry
from spectral_cli.core.registry import family_names, get_family


@pytest.mark.parametrize("family", family_names())
def test_tiny_tune_of_every_family(runner, tmp_path: Path, family: str) -> None:
    fam = get_family(family)
    smoke = [a for s in fam.smoke for a in ("--set", s)]
    out = tmp_path / "tune"
    result = invoke(
        runner,
        "tune",
        family,
        "--trials",
        "2",
        "--final-seeds",
        "2",
        "--pruner",
        "none",
        *smoke,
        "--out",
        out,
        "--json",
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    res = report["families"][family]
    # the study optimizes the family's own selection metric, in its direction
    assert res["metric"] == fam.select.name
    assert res["direction"] == fam.select.direction
    assert res["test_metric"] == fam.test.name and res["test"]["n"] == 2
    done = [t["value"] for t in res["trials"] if t["state"] == "COMPLETE"]
    assert len(done) == 2
    assert res["best_value"] == (max(done) if fam.select.mode == "max" else min(done))
    for trial in (out / "trials" / f"spectral-{family}").iterdir():  # trials never see test
        metrics = json.loads((trial / "report.json").read_text())["metrics"]
        assert metrics[fam.test.name] is None
    md = (out / "comparison.md").read_text()
    assert f"| {family} | {fam.test.name}" in md
    assert (out / f"best-{family}" / "model.safetensors").is_file()


def test_a_family_declared_not_tunable_is_refused(runner, tmp_path: Path, monkeypatch) -> None:
    fam = get_family("mlp")
    monkeypatch.setitem(
        registry._REGISTRY, "mlp", dataclasses.replace(fam, tunable="it has nothing to tune")
    )
    result = invoke(runner, "tune", "mlp", "--out", tmp_path / "t")
    assert_one_line_error(result, 2)
    assert "cannot be tuned: it has nothing to tune" in result.stderr
    assert not (tmp_path / "t").exists()


def test_families_with_different_test_metrics_are_not_compared(runner, tmp_path: Path) -> None:
    sets = [a for s in get_family("hae").smoke for a in ("--set", s)]
    args = ["tune", "hae", "--trials", "1", "--final-seeds", "2", "--pruner", "none", *sets]
    result = invoke(runner, *args, "--out", tmp_path / "t", "--json", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pairwise"] == []
