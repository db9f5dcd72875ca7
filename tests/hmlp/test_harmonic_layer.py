"""HarmonicLayer and FrequencyAwareOptimizer against the seed's formulas and hand computations."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from spectral_cli.hmlp.layer import (
    FrequencyAwareOptimizer,
    HarmonicLayer,
    gradient_scales,
    harmonic_activation,
    harmonic_frequencies,
    init_scales,
)


def test_frequencies_follow_the_capped_harmonic_series() -> None:
    assert harmonic_frequencies(7, 1.0, 5.0).tolist() == [1, 2, 3, 4, 5, 5, 5]
    assert harmonic_frequencies(4, 0.5, 10.0).tolist() == [0.5, 1.0, 1.5, 2.0]
    layer = HarmonicLayer(3, 6, base_freq=1.0, max_freq=3.0)
    assert layer.frequencies.tolist() == [1, 2, 3, 3, 3, 3]
    assert "frequencies" in layer.state_dict()  # a buffer: saved, moved with .to(), not trained
    assert all(p is not layer.frequencies for p in layer.parameters())
    with pytest.raises(ValueError):
        harmonic_frequencies(0, 1.0, 5.0)


def test_activation_is_sin_2pi_z_over_f_plus_residual_per_neuron() -> None:
    torch.manual_seed(0)
    layer = HarmonicLayer(5, 8, base_freq=1.0, max_freq=5.0)
    x = torch.randn(11, 5)
    z = layer.linear(x)
    out = layer(x)
    for i in range(8):  # the public implementation's per-neuron loop, as the reference
        f = min(1.0 * (i + 1), 5.0)
        expected = torch.sin(2 * math.pi * z[:, i] / f) + 0.1 * z[:, i]
        torch.testing.assert_close(out[:, i], expected, rtol=1e-6, atol=1e-6)
    assert torch.allclose(
        harmonic_activation(torch.tensor([0.25]), torch.tensor([1.0]), 0.0), torch.ones(1)
    )
    relu = HarmonicLayer(5, 8, activation="relu")
    assert torch.equal(relu(x), torch.relu(relu.linear(x)))


def test_harmonic_init_is_the_standard_draw_times_normalized_inverse_sqrt_f() -> None:
    torch.manual_seed(3)
    std = HarmonicLayer(16, 10, 1.0, 5.0, init="standard")
    torch.manual_seed(3)
    har = HarmonicLayer(16, 10, 1.0, 5.0, init="harmonic")
    f = torch.tensor([1, 2, 3, 4, 5, 5, 5, 5, 5, 5], dtype=torch.float32)
    s = f.rsqrt() / f.rsqrt().mean()
    torch.testing.assert_close(init_scales(f), s)
    torch.testing.assert_close(har.linear.weight, std.linear.weight * s[:, None])
    torch.testing.assert_close(har.linear.bias, std.linear.bias * s)
    assert float(std.linear.weight.detach().abs().max()) <= 1 / math.sqrt(
        16
    )  # PyTorch's nn.Linear bounds
    assert float(std.linear.bias.detach().abs().max()) <= 1 / math.sqrt(16)


def _layer_with_grads() -> tuple[HarmonicLayer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    layer = HarmonicLayer(3, 4, base_freq=2.0, max_freq=5.0)  # f = 2, 4, 5, 5
    gw, gb = torch.randn(4, 3), torch.randn(4)
    layer.linear.weight.grad, layer.linear.bias.grad = gw.clone(), gb.clone()
    return layer, gw, gb


def test_sgd_update_of_each_neuron_is_scaled_by_one_over_one_plus_cf() -> None:
    layer, gw, gb = _layer_with_grads()
    w0, b0 = layer.linear.weight.detach().clone(), layer.linear.bias.detach().clone()
    opt = FrequencyAwareOptimizer(torch.optim.SGD(layer.parameters(), lr=0.5), layer, 0.1)
    opt.step()
    scale = torch.tensor([1 / 1.2, 1 / 1.4, 1 / 1.5, 1 / 1.5])  # by hand: 1 / (1 + 0.1 f)
    torch.testing.assert_close(gradient_scales(layer.frequencies, 0.1), scale)
    torch.testing.assert_close(layer.linear.weight.detach(), w0 - 0.5 * gw * scale[:, None])
    torch.testing.assert_close(layer.linear.bias.detach(), b0 - 0.5 * gb * scale)


def test_with_adam_the_scaling_is_nearly_a_no_op() -> None:
    """Adam is invariant to constant per-coordinate gradient scales (up to eps): documented."""
    runs = []
    for wrap in (False, True):
        layer, _, _ = _layer_with_grads()
        base = torch.optim.Adam(layer.parameters(), lr=1e-2)
        opt = FrequencyAwareOptimizer(base, layer, 0.1) if wrap else base
        x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
        for _ in range(5):
            opt.zero_grad()
            layer(x).pow(2).sum().backward()
            opt.step()
        runs.append(layer.linear.weight.detach())
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=1e-5)


def test_state_dict_round_trips_and_continues_identically() -> None:
    def make() -> tuple[nn.Module, FrequencyAwareOptimizer]:
        torch.manual_seed(2)
        model = nn.Sequential(HarmonicLayer(4, 6, 1.0, 3.0), nn.Linear(6, 2))
        base = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return model, FrequencyAwareOptimizer(base, model, 0.3)

    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(5))

    def steps(model: nn.Module, opt: torch.optim.Optimizer, n: int) -> None:
        for _ in range(n):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()

    model_a, opt_a = make()
    steps(model_a, opt_a, 3)
    # deep copies: a loaded optimizer state may alias the saved tensors (as from disk it would not)
    saved_model, saved_opt = copy.deepcopy(model_a.state_dict()), copy.deepcopy(opt_a.state_dict())
    assert saved_opt["frequency_aware"] == {"freq_scale_factor": 0.3}
    model_b, opt_b = make()
    opt_b.freq_scale_factor = 0.0
    model_b.load_state_dict(saved_model)
    opt_b.load_state_dict(saved_opt)
    assert opt_b.freq_scale_factor == 0.3
    assert opt_b.param_groups is opt_b.base.param_groups and opt_b.state is opt_b.base.state
    steps(model_a, opt_a, 2)
    steps(model_b, opt_b, 2)
    for pa, pb in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    with pytest.raises(ValueError, match="FrequencyAwareOptimizer"):
        opt_b.load_state_dict(opt_b.base.state_dict())


def test_wrapper_shares_groups_and_tolerates_missing_grads() -> None:
    layer = HarmonicLayer(2, 3)
    base = torch.optim.Adam(layer.parameters(), lr=1e-3)
    opt = FrequencyAwareOptimizer(base, layer)
    opt.param_groups[0]["lr"] = 0.5  # lr changes reach the base optimizer
    assert base.param_groups[0]["lr"] == 0.5
    opt.step()  # no gradients yet: nothing to scale, nothing to do
    assert isinstance(opt, torch.optim.Optimizer)
    with pytest.raises(ValueError):
        FrequencyAwareOptimizer(base, layer, -1.0)
