"""Harmonic MLP pieces (the harmonic-MLP document): HarmonicLayer and FrequencyAwareOptimizer.

Formulas, as in the public implementation behind the seed document (per output neuron ``i``,
0-based, of a layer with ``in`` inputs):

* frequency ``f_i = min(base_freq * (i + 1), max_freq)`` -- a non-trainable buffer. With
  ``hmlp``'s caps of 10 (base 1) the first 9 neurons get their own value and every other neuron
  sits at ``max_freq``; the public implementation's caps 5 and 3 left 4 (and 2) distinct.
* activation ``a_i(z) = sin(2 pi z / f_i) + r z`` with residual ``r = 0.1``. Note that ``f_i``
  divides the argument, so it acts as a *period*: a "higher-frequency" neuron oscillates more
  slowly in ``z``. We keep the formula as published (it is what was measured) and say so here.
* frequency-aware initialization: ``W_ij ~ U(-1/sqrt(in), 1/sqrt(in)) * s_i`` and
  ``b_i ~ U(-1/sqrt(in), 1/sqrt(in)) * s_i`` with ``s_i = f_i^(-1/2) / mean_k f_k^(-1/2)``. The seed
  says "scaled by 1/sqrt(f)"; the normalization by the mean is the public implementation's and
  keeps the layer's average scale equal to PyTorch's default ``nn.Linear`` initialization, which is
  what ``init="standard"`` uses (the same bounds with ``s_i = 1``).
* frequency-aware optimization: before the base optimizer's step, the gradient of neuron ``i``'s
  weight row *and* bias is multiplied by ``1 / (1 + c f_i)`` with ``c = 0.1``.

Where we differ from the public code: the activation is vectorized (one broadcast op instead of a
Python loop over neurons); the optimizer wrapper is a real ``torch.optim.Optimizer`` whose
``state_dict`` round-trips (for ``--resume``), and it tolerates parameters without gradients.

A property worth knowing (pinned by a test): Adam-type optimizers are invariant to a constant
per-coordinate rescaling of the gradient, so with Adam the wrapper changes the update only through
Adam's ``eps`` and through L2 ``weight_decay`` (added to the gradient inside Adam, after our
scaling). With plain SGD it scales each neuron's update exactly by ``1 / (1 + c f_i)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

Activation = Literal["harmonic", "relu"]
Init = Literal["harmonic", "standard"]


def harmonic_frequencies(n: int, base_freq: float = 1.0, max_freq: float = 10.0) -> Tensor:
    """``f_i = min(base_freq * (i + 1), max_freq)`` for ``i = 0 .. n-1`` (float32)."""
    if n < 1 or base_freq <= 0 or max_freq <= 0:
        raise ValueError("need n >= 1, base_freq > 0 and max_freq > 0")
    return torch.clamp(
        base_freq * torch.arange(1, n + 1, dtype=torch.float64), max=max_freq
    ).float()


def init_scales(frequencies: Tensor) -> Tensor:
    """Per-neuron initialization factors ``s_i = f_i^(-1/2) / mean(f^(-1/2))``."""
    s = frequencies.double().rsqrt()
    return (s / s.mean()).to(frequencies.dtype)


def harmonic_activation(z: Tensor, frequencies: Tensor, residual: float = 0.1) -> Tensor:
    """``sin(2 pi z / f) + residual * z``, ``frequencies`` broadcast over the last dimension."""
    return torch.sin(z * (2.0 * math.pi / frequencies)) + residual * z


class HarmonicLayer(nn.Module):
    """``Linear(in, out)`` followed by a per-neuron harmonic activation (see the module docstring).

    ``activation="relu"`` and ``init="standard"`` switch the harmonic parts off one by one (for
    ablations and the plain ``mlp`` family); the frequency buffer is kept either way.

    Example:
        >>> import torch
        >>> from spectral_cli import HarmonicLayer
        >>> layer = HarmonicLayer(40, 8, base_freq=1.0, max_freq=5.0)
        >>> layer.frequencies.tolist()  # neuron i: min(base * (i + 1), max_freq)
        [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0]
        >>> layer(torch.randn(2, 40)).shape
        torch.Size([2, 8])
    """

    frequencies: Tensor  # buffer

    def __init__(
        self,
        in_features: int,
        out_features: int,
        base_freq: float = 1.0,
        max_freq: float = 10.0,
        *,
        activation: Activation = "harmonic",
        init: Init = "harmonic",
        residual: float = 0.1,
    ) -> None:
        super().__init__()
        if activation not in ("harmonic", "relu") or init not in ("harmonic", "standard"):
            raise ValueError(f"unknown activation {activation!r} or init {init!r}")
        self.linear = nn.Linear(in_features, out_features)
        self.activation, self.init, self.residual = activation, init, float(residual)
        self.base_freq, self.max_freq = float(base_freq), float(max_freq)
        self.register_buffer("frequencies", harmonic_frequencies(out_features, base_freq, max_freq))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(in), 1/sqrt(in)) for weights and biases, times ``s_i`` if harmonic."""
        bound = 1.0 / math.sqrt(self.linear.in_features)
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)
            self.linear.bias.uniform_(-bound, bound)
            if self.init == "harmonic":
                scale = init_scales(self.frequencies)
                self.linear.weight.mul_(scale[:, None])
                self.linear.bias.mul_(scale)

    def forward(self, x: Tensor) -> Tensor:
        z = self.linear(x)
        if self.activation == "relu":
            return torch.relu(z)
        return harmonic_activation(z, self.frequencies.to(z.dtype), self.residual)

    def act(self, z: Tensor) -> Tensor:
        """The activation alone, applied to pre-activations ``z`` of shape ``(..., out)``."""
        if self.activation == "relu":
            return torch.relu(z)
        return harmonic_activation(z, self.frequencies.to(z.dtype), self.residual)

    def extra_repr(self) -> str:
        return (
            f"base_freq={self.base_freq}, max_freq={self.max_freq}, activation={self.activation}, "
            f"init={self.init}, residual={self.residual}"
        )


def gradient_scales(frequencies: Tensor, freq_scale_factor: float) -> Tensor:
    """``1 / (1 + c f_i)``: the per-neuron gradient factor of :class:`FrequencyAwareOptimizer`."""
    return 1.0 / (1.0 + freq_scale_factor * frequencies)


class FrequencyAwareOptimizer(torch.optim.Optimizer):
    """Wraps any optimizer; scales every :class:`HarmonicLayer` neuron's gradient before its step.

    It shares the base optimizer's ``param_groups`` and ``state`` (so ``zero_grad``, learning-rate
    changes and schedulers act on the base), and its ``state_dict`` is the base's plus a
    ``"frequency_aware"`` entry, which :meth:`load_state_dict` requires and restores.
    """

    STATE_KEY = "frequency_aware"

    def __init__(
        self, optimizer: torch.optim.Optimizer, model: nn.Module, freq_scale_factor: float = 0.1
    ) -> None:
        if freq_scale_factor < 0:
            raise ValueError("freq_scale_factor must be >= 0")
        self.base = optimizer
        self.freq_scale_factor = float(freq_scale_factor)
        self.layers = [m for m in model.modules() if isinstance(m, HarmonicLayer)]
        super().__init__(optimizer.param_groups, optimizer.defaults)
        self._share_base()

    def _share_base(self) -> None:
        self.param_groups = self.base.param_groups
        self.state = self.base.state

    @torch.no_grad()
    def scale_gradients(self) -> None:
        """Multiply each neuron's weight-row and bias gradient by ``1 / (1 + c f_i)`` in place."""
        for layer in self.layers:
            scale = gradient_scales(layer.frequencies, self.freq_scale_factor)
            weight, bias = layer.linear.weight, layer.linear.bias
            if weight.grad is not None:
                weight.grad.mul_(scale.to(weight.grad)[:, None])
            if bias is not None and bias.grad is not None:
                bias.grad.mul_(scale.to(bias.grad))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.scale_gradients()
        self.base.step()
        return loss

    def state_dict(self) -> dict[str, Any]:
        state = self.base.state_dict()
        state[self.STATE_KEY] = {"freq_scale_factor": self.freq_scale_factor}
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        own = state.pop(self.STATE_KEY, None)
        if not isinstance(own, dict) or "freq_scale_factor" not in own:
            raise ValueError("not a FrequencyAwareOptimizer state (no 'frequency_aware' entry)")
        self.base.load_state_dict(state)
        self.freq_scale_factor = float(own["freq_scale_factor"])
        self._share_base()  # the base replaced its group and state containers
