"""The output contract of ``spectral train``, checked for every registered family.

Iterates the registry: a new family is covered without touching this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from safetensors import safe_open

from spectral_cli.core.registry import FAMILY_MODULES, family_names, get_family
from spectral_cli.core.report import TrainReport
from spectral_cli.core.resolve import resolve_train_config

FAMILIES = family_names()


def test_registry_lists_every_declared_module_and_nothing_else() -> None:
    assert set(FAMILIES) == set(FAMILY_MODULES) and len(FAMILIES) == len(set(FAMILIES))
    for name in FAMILIES:
        fam = get_family(name)
        assert fam.name == name and fam.description == FAMILY_MODULES[name][1]
        assert fam.select.mode in ("max", "min") and fam.test.mode in ("max", "min")


@pytest.fixture(params=FAMILIES)
def smoke_run(request: pytest.FixtureRequest, trained_run):
    """The family's shared smoke run (trained once per session through the CLI)."""
    family = request.param
    run = trained_run(family)
    cfg = resolve_train_config(family, None, get_family(family).smoke, seed=0)
    report = TrainReport.model_validate_json((run.out / "report.json").read_text())
    return family, cfg, run.out, report


def test_every_family_writes_the_same_run_directory(smoke_run) -> None:
    family, cfg, out, report = smoke_run
    fam = get_family(family)
    for name in (
        "model.safetensors",
        "state.safetensors",
        "config.yaml",
        "report.json",
        "curves.png",
    ):
        assert (out / name).is_file(), name
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == json.loads(report.model_dump_json())  # the report schema round-trips
    # metrics: the family's own names, all measured (no placeholder values)
    assert on_disk["metrics"] and fam.test.name in on_disk["metrics"]
    assert all(v is not None for v in on_disk["metrics"].values())
    sel = on_disk["selection"]
    assert tuple(fam.select) == (sel["metric"], sel["mode"])
    assert on_disk["history"] and all(fam.select.name in h for h in on_disk["history"])
    assert on_disk["params"]["total"] > 0
    assert on_disk["timing"]["torch_threads"] == 1
    assert set(on_disk["files"].values()) <= {str(p.relative_to(out)) for p in out.rglob("*")}
    # every model of the run has its checkpoint; the primary one is model.safetensors
    members = fam.members(cfg)
    assert list(on_disk["models"]) == [m.name for m in members]
    for index, member in enumerate(members):
        summary = on_disk["models"][member.name]
        path = out / summary["file"]
        assert path.is_file() and (index == 0) == (summary["file"] == "model.safetensors")
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata()
        assert meta["spectral.family"] == (member.checkpoint_family or member.cfg.family)
        assert json.loads(meta["spectral.config"]) == member.cfg.model_dump(mode="json")


def test_config_yaml_reloads_into_the_same_config(smoke_run, tmp_path: Path) -> None:
    family, cfg, out, _ = smoke_run
    again = resolve_train_config(family, out / "config.yaml", [])
    assert again == cfg
    assert yaml.safe_load((out / "config.yaml").read_text())["family"] == family


def test_regression_families_report_no_accuracy(smoke_run) -> None:
    family, _, _, report = smoke_run
    if get_family(family).select.name == "val_acc":
        assert "train_acc" in report.history[0] and "test_acc" in report.metrics
    else:  # a family that does not classify reports no accuracy at all, not zeros
        assert not any(k.endswith("_acc") for k in report.metrics)
        assert "val_acc" not in report.history[0]
        # a training accuracy appears only where the loss counts hits (hae: pairwise detection)
        if "train_acc" in report.history[0]:
            assert any(h["train_acc"] > 0 for h in report.history)


def test_every_family_logs_live_and_records_its_provenance(smoke_run) -> None:
    """metrics.jsonl equals each model's history; TensorBoard's own reader reads the same
    scalars back (when tensorboard is installed); the provenance block is complete."""
    from spectral_cli.core.metrics_log import read_lines

    family, _, out, report = smoke_run
    lines = read_lines(out / "metrics.jsonl")
    assert {r["model"] for r in lines} == set(report.models)
    for name, model in report.models.items():
        mine = [r for r in lines if r["model"] == name]
        assert [{k: v for k, v in r.items() if k not in ("model", "time")} for r in mine] == (
            model.history
        )
        if (out / "tensorboard" / name).is_dir():
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

            events = EventAccumulator(str(out / "tensorboard" / name))
            events.Reload()
            for key in ("loss", "val_loss", "seconds"):
                got = [(s.step, s.value) for s in events.Scalars(key)]
                want = [(int(r["step"]), r[key]) for r in mine]
                assert [g[0] for g in got] == [w[0] for w in want]
                assert [g[1] for g in got] == pytest.approx([w[1] for w in want], rel=1e-6)
    prov = report.provenance
    assert prov is not None and prov.command_line and prov.started <= (prov.ended or "")
    assert prov.host and prov.cpu and prov.torch_threads == 1 and prov.world_size == 1
    assert prov.data_sha256 and len(prov.data_sha256) == 64
    assert {"torch", "numpy", "spectral"} <= set(prov.versions) and report.resumes == []
