"""The explicit full-batch GD loop of ``spectral ntk`` (spectral_cli.ntk.gd)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from spectral_cli.core.errors import Interrupted, RuntimeFailure
from spectral_cli.core.signals import StopFlag
from spectral_cli.ntk.gd import train_full_batch


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Flatten(0)).double()


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 2, generator=g), torch.randn(6, generator=g), torch.randn(3, 2)


def test_gd_is_plain_sgd_on_half_the_summed_squared_error() -> None:
    x, y, xt = _data()
    net, ref = _net(), _net()
    rec = train_full_batch(
        net, x, y, xt, steps=5, lr=0.05, record_every=2, device=torch.device("cpu")
    )
    assert rec.steps == [0, 2, 4, 6]  # rounded up to a multiple of record_every
    assert rec.train.shape == (4, 6) and rec.test is not None and rec.test.shape == (4, 3)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    xd, yd = x.double(), y.double()
    for _ in range(6):
        opt.zero_grad()
        (0.5 * ((ref(xd) - yd) ** 2).sum()).backward()
        opt.step()
    with torch.no_grad():
        assert torch.equal(rec.train[-1], ref(xd))
        assert torch.equal(rec.test[-1], ref(xt.double()))


def test_gd_nan_loss_is_a_runtime_failure_naming_the_step() -> None:
    x, y, _ = _data()
    with pytest.raises(RuntimeFailure, match=r"diverged \(loss became (inf|nan) at step \d+\)"):
        train_full_batch(
            _net(),
            x,
            y * 1e200,
            None,
            steps=50,
            lr=1e3,
            record_every=10,
            device=torch.device("cpu"),
        )


def test_gd_stop_request_is_interrupted() -> None:
    x, y, _ = _data()
    stop = StopFlag()
    stop.request("SIGINT")
    with pytest.raises(Interrupted, match="not resumable"):
        train_full_batch(
            _net(),
            x,
            y,
            None,
            steps=3,
            lr=0.1,
            record_every=1,
            device=torch.device("cpu"),
            stop=stop,
        )


def test_ntk_does_not_import_the_epoch_trainer() -> None:
    code = (
        "import sys, spectral_cli.ntk.run, spectral_cli.ntk.sweep; "
        "print('spectral_cli.core.trainer' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
