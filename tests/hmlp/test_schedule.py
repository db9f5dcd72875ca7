"""``train.scheduler=plateau``: PyTorch's ReduceLROnPlateau rule, applied by the loop, resumable."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from helpers import StopAfter, assert_one_line_error, invoke
from safetensors.torch import load_file

from spectral_cli.core.errors import Interrupted
from spectral_cli.core.pipeline import run_experiment
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.core.signals import StopFlag
from spectral_cli.hmlp.schedule import plateau_lr


def torch_plateau(values: list[float], lr: float, patience: int, factor: float) -> list[float]:
    """The learning rate before each epoch, by PyTorch's own scheduler stepped on ``values``."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, "min", patience=patience, factor=factor)
    rates = [opt.param_groups[0]["lr"]]
    for v in values:
        sched.step(v)
        rates.append(opt.param_groups[0]["lr"])
    return rates


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
@pytest.mark.parametrize("factor", [0.1, 0.5])
def test_plateau_lr_is_pytorchs_reduce_lr_on_plateau(patience: int, factor: float) -> None:
    rng = random.Random(patience * 10 + int(factor * 10))
    for _ in range(40):
        # decreasing runs, plateaus, exact repeats, improvements below the 1e-4 threshold
        values, v = [], rng.uniform(0.5, 3.0)
        for _ in range(rng.randint(1, 40)):
            v = rng.choice([v, v * (1 - 5e-5), v * rng.uniform(0.8, 1.0), v * rng.uniform(1, 1.2)])
            values.append(v)
        expected = torch_plateau(values, 1e-3, patience, factor)
        # equal floats: both multiply the same rate by the same factor, in the same order
        got = [plateau_lr(values[:k], 1e-3, patience, factor) for k in range(len(values) + 1)]
        assert got == expected


def test_plateau_lr_stops_reducing_below_eps() -> None:
    # PyTorch skips a change smaller than eps=1e-8: 1e-3 -> ... -> 1e-8, then no further
    flat = [1.0] * 200
    assert plateau_lr(flat, 1e-3, 0, 0.1) == torch_plateau(flat, 1e-3, 0, 0.1)[-1]
    assert 1e-9 < plateau_lr(flat, 1e-3, 0, 0.1) <= 1.0001e-8


SETS = ["data.limit=300", "train.batch_size=64", "model.hidden=[32,16]"]


@pytest.mark.parametrize("metric", ["loss", "val_loss"])
def test_the_loop_sets_and_records_the_plateau_rate(tmp_path: Path, metric: str) -> None:
    sets = [*SETS, "train.epochs=8", "train.scheduler=plateau", "train.plateau_patience=0"]
    cfg = resolve_train_config("hmlp", None, [*sets, f"train.plateau_metric={metric}"], seed=1)
    run_experiment(cfg, tmp_path, torch.device("cpu"))
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    history = [h for h in history if "lr" in h]
    assert len(history) == 8
    rates = [h["lr"] for h in history]
    assert rates == [plateau_lr([h[metric] for h in history[:k]], 1e-3, 0, 0.1) for k in range(8)]
    assert rates[0] == 1e-3 and rates[-1] < 1e-3  # patience 0 on 8 noisy epochs: it reduced


def test_constant_schedule_records_no_rate(tmp_path: Path) -> None:
    cfg = resolve_train_config("mlp", None, [*SETS, "train.epochs=1"], seed=1)
    assert cfg.train.scheduler == "constant"
    run_experiment(cfg, tmp_path, torch.device("cpu"))
    assert "lr" not in (tmp_path / "metrics.jsonl").read_text()


def test_interrupted_plateau_run_resumes_exactly(tmp_path: Path) -> None:
    # 270 train / 64 -> 5 steps per epoch; stop inside epoch 4, after the rate has dropped
    sets = [*SETS, "train.epochs=5", "train.scheduler=plateau", "train.plateau_patience=0"]
    cfg = resolve_train_config("hmlp", None, [*sets, "train.plateau_metric=val_loss"], seed=2)
    device = torch.device("cpu")
    run_experiment(cfg, tmp_path / "full", device)
    full = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert min(h["lr"] for h in full if "lr" in h) < 1e-3  # the rate did change
    cut = tmp_path / "cut"
    cut.mkdir()
    flag = StopFlag()
    with pytest.raises(Interrupted):
        run_experiment(cfg, cut, device, observer=StopAfter(flag, 17), stop=flag)
    run_experiment(cfg, cut, device, resume=True)
    a = load_file(str(tmp_path / "full" / "state.safetensors"))
    b = load_file(str(cut / "state.safetensors"))
    keys = [k for k in a if k.startswith(("model.", "optim."))]
    assert keys and all(torch.equal(a[k], b[k]) for k in keys)


def test_bad_scheduler_values_are_exit_2(runner, tmp_path: Path) -> None:
    for sets in (
        ["train.scheduler=cosine"],
        ["train.plateau_factor=1.5"],
        ["train.plateau_patience=-1"],
        ["train.plateau_metric=val_acc"],
    ):
        args = [x for s in sets for x in ("--set", s)]
        result = invoke(runner, "train", "hmlp", *args, "--out", tmp_path / "x", "-q")
        assert_one_line_error(result, 2)
        assert not (tmp_path / "x").exists()


def test_the_public_preset_is_the_public_implementations_setup() -> None:
    from spectral_cli.core.config import presets_dir

    public = resolve_train_config("hmlp", presets_dir() / "hmlp-public.yaml", [])
    assert public.model.max_freqs == (5.0, 3.0)
    train = public.train
    assert (train.epochs, train.scheduler, train.plateau_patience) == (15, "plateau", 2)
    assert (train.plateau_factor, train.plateau_metric, train.lr) == (0.1, "loss", 1e-3)
    default = resolve_train_config("hmlp", None, [])
    assert default.model.max_freqs == (10.0, 10.0)
    assert (default.train.epochs, default.train.scheduler) == (50, "constant")
