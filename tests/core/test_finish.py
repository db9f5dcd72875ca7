"""The one post-training step: every family's ``finish`` gives metrics, extras and figures of
every model at once, and computes each expensive evaluation once per model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spectral_cli.core.pipeline import finish_run, run_experiment
from spectral_cli.core.registry import Outcome, TrainedRun, get_family
from spectral_cli.core.resolve import resolve_train_config


def test_the_hae_runs_its_test_set_detector_once_per_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metrics, extras and the histogram share one detector pass (it used to run three times:
    once for the metrics, once for the extras, once for the figure)."""
    from spectral_cli.harmony import detection

    calls: list[int] = []
    real = detection.detector

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(detection, "detector", counting)
    torch.set_num_threads(1)
    cfg = resolve_train_config("hae", None, [*get_family("hae").smoke, "model.baseline=sae"])
    report = run_experiment(cfg, tmp_path / "run", torch.device("cpu"))
    assert list(report.models) == ["hae", "sae"]
    assert len(calls) == 2
    assert (tmp_path / "run" / "harmony_hist.png").is_file()
    for summary in report.models.values():
        assert summary.metrics["test_auroc"] is not None and "detection" in summary.extras


def test_a_finish_that_forgets_a_model_is_a_bug(tmp_path: Path) -> None:
    fam = get_family("mlp")
    broken = type(fam)(**{**fam.__dict__, "finish": lambda run: Outcome({})})
    run = TrainedRun(None, None, torch.device("cpu"), None, [])  # type: ignore[arg-type]
    assert finish_run(broken, run).models == {}  # no models: nothing to forget
    cfg = resolve_train_config("mlp", None, fam.smoke)
    member = fam.members(cfg)[0]
    from spectral_cli.core.registry import TrainedModel

    run.models.append(TrainedModel(member, torch.nn.Linear(1, 1), "model.safetensors"))
    with pytest.raises(ValueError, match="finish returned"):
        finish_run(broken, run)
