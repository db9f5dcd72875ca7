"""``train.grad_clip``: the trainer clips the gradient norm before every optimizer step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from helpers import TINY, invoke, read_report
from safetensors.torch import load_file

CLIP = 1e-4


def test_a_tiny_grad_clip_clips_every_step_and_changes_the_run(
    runner, trained_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = trained_run("standard")  # TINY, seed 0, no clipping
    real_clip = torch.nn.utils.clip_grad_norm_
    calls: list[tuple[float, float, float]] = []  # (max_norm, norm before, norm after)

    def spy(parameters, max_norm, *args, **kwargs):
        params = [p for p in parameters if p.grad is not None]
        before = real_clip(params, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        calls.append((float(max_norm), float(before), float(after)))
        return before

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    out = tmp_path / "clipped"
    args = ["train", "standard", *TINY, "--seed", "0", "--device", "cpu"]
    result = invoke(runner, *args, "--set", f"train.grad_clip={CLIP}", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["grad_clip"] == CLIP
    # one clip per optimizer step (2 epochs of several batches), each to the configured norm
    assert len(calls) >= 4 and all(max_norm == CLIP for max_norm, _, _ in calls)
    assert all(before > CLIP for _, before, _ in calls)  # the raw gradients were larger ...
    assert all(after <= CLIP * (1 + 1e-3) for _, _, after in calls)  # ... and were clipped
    clipped = load_file(str(out / "model.safetensors"))
    free = load_file(str(reference.out / "model.safetensors"))
    assert set(clipped) == set(free)
    assert not all(torch.equal(clipped[k], free[k]) for k in free)
    assert read_report(out)["history"] != read_report(reference.out)["history"]


def test_without_grad_clip_nothing_is_clipped(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args, **kwargs):
        raise AssertionError("clip_grad_norm_ called without train.grad_clip")

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", never)
    out = tmp_path / "free"
    sets = ["--set", "train.epochs=1", "--set", "data.limit=120", "--set", "train.batch_size=64"]
    result = invoke(runner, "train", "standard", *sets, "--device", "cpu", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["grad_clip"] is None
