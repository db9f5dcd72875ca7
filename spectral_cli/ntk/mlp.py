"""ReLU MLP with NTK or standard parameterization (the model of ``spectral ntk``).

Contract (outside tools rebuild the model from ``model.safetensors``):

* ``depth`` Linear layers held in ``self.layers`` (state dict ``layers.0.weight``,
  ``layers.0.bias``, ...), widths ``in_features -> width -> ... -> width -> 1``, ReLU between
  layers (none after the last), scalar output: ``forward`` returns shape ``[N]``.
* ``parameterization="ntk"`` (neural-tangents ``stax.Dense(out, W_std, b_std)``)::

      z = (w_std / sqrt(fan_in)) * a @ W.T + b_std * b,   W, b ~ N(0, 1)

* ``parameterization="standard"``::

      z = a @ W.T + b,   W ~ N(0, w_std**2 / fan_in),  b ~ N(0, b_std**2)

  This is neural-tangents' "standard" parameterization and deliberately *not* PyTorch's default
  Kaiming-uniform init: at initialization both parameterizations then compute the same random
  function (same distribution of outputs and the same NNGP), and differ only in their tangent
  kernel and training dynamics. A standard model built from an NTK model by
  ``W_std_param = (w_std / sqrt(fan_in)) * W`` and ``b_std_param = b_std * b`` is the same function.

Defaults ``w_std=1.0, b_std=0.0`` follow ``stax.Dense``'s defaults. With ``b_std=0`` in the NTK
parameterization the biases exist (the state dict keeps its layout) but have no effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

Parameterization = Literal["ntk", "standard"]
PARAMETERIZATIONS: tuple[str, ...] = ("ntk", "standard")


@dataclass(frozen=True)
class MLPTrace:
    """Per-layer quantities of one forward pass, as used by the structured NTK.

    ``inputs[l]`` is the input ``a_l`` of layer ``l`` (``[N, fan_in_l]``; ``inputs[0]`` is ``x``),
    ``preacts[l]`` its output ``z_l`` (``[N, fan_out_l]``, before the ReLU), and ``output`` the
    network output ``[N]`` (``preacts[-1][:, 0]``).
    """

    inputs: list[Tensor]
    preacts: list[Tensor]
    output: Tensor


class NTKMLP(nn.Module):
    """ReLU MLP with ``depth`` Linear layers and scalar output (see module docstring).

    Args:
        in_features: input dimension (e.g. the Fourier feature dimension).
        width: hidden width (ignored when ``depth == 1``).
        depth: number of Linear layers, >= 1 (``depth - 1`` hidden ReLU layers).
        parameterization: ``"ntk"`` or ``"standard"``.
        w_std, b_std: weight / bias standard deviations (scales), >= 0.
        generator: optional ``torch.Generator`` for a reproducible initialization.
        dtype: parameter dtype (default: torch's default dtype).

    Example:
        >>> import torch
        >>> from spectral_cli import NTKMLP, empirical_ntk
        >>> g = torch.Generator().manual_seed(0)
        >>> model = NTKMLP(2, width=64, depth=3, generator=g, dtype=torch.float64)
        >>> x = torch.randn(5, 2, generator=g, dtype=torch.float64)
        >>> model(x).shape
        torch.Size([5])
        >>> k = empirical_ntk(model, x)
        >>> k.shape, bool(torch.allclose(k, k.T))
        (torch.Size([5, 5]), True)
    """

    def __init__(
        self,
        in_features: int,
        width: int = 256,
        depth: int = 4,
        parameterization: Parameterization = "ntk",
        w_std: float = 1.0,
        b_std: float = 0.0,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if int(in_features) < 1:
            raise ValueError(f"in_features must be >= 1, got {in_features}")
        if int(width) < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if int(depth) < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"parameterization must be one of {PARAMETERIZATIONS}, got {parameterization!r}"
            )
        for name, val in (("w_std", w_std), ("b_std", b_std)):
            if not math.isfinite(val) or val < 0:
                raise ValueError(f"{name} must be finite and >= 0, got {val}")
        self.in_features = int(in_features)
        self.width = int(width)
        self.depth = int(depth)
        self.parameterization: Parameterization = parameterization
        self.w_std = float(w_std)
        self.b_std = float(b_std)
        sizes = [self.in_features] + [self.width] * (self.depth - 1) + [1]
        self.layers = nn.ModuleList(
            nn.Linear(fan_in, fan_out, dtype=dtype)
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw fresh parameters (NTK: N(0, 1); standard: N(0, w_std²/fan_in), N(0, b_std²))."""
        with torch.no_grad():
            for layer in self.linears():
                w_scale, b_scale = 1.0, 1.0
                if self.parameterization == "standard":
                    w_scale, b_scale = self.w_std / math.sqrt(layer.in_features), self.b_std
                layer.weight.normal_(0.0, 1.0, generator=generator).mul_(w_scale)
                layer.bias.normal_(0.0, 1.0, generator=generator).mul_(b_scale)

    def linears(self) -> list[nn.Linear]:
        """``self.layers`` as what they are (a ``ModuleList`` yields plain modules)."""
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    def layer_scales(self) -> list[tuple[float, float]]:
        """Per layer ``(c_w, c_b)`` with ``z = c_w * a @ W.T + c_b * b``.

        NTK: ``(w_std / sqrt(fan_in), b_std)``; standard: ``(1, 1)``. These are also the factors
        of the parameter gradients: ``df/dW = c_w * delta a^T`` and ``df/db = c_b * delta``.
        """
        if self.parameterization == "standard":
            return [(1.0, 1.0) for _ in self.layers]
        return [(self.w_std / math.sqrt(layer.in_features), self.b_std) for layer in self.linears()]

    def check_input(self, x: Tensor) -> Tensor:
        """``x`` as ``[N, in_features]`` in the weights' dtype; another shape is a ValueError."""
        if x.dim() == 1 and self.in_features == 1:
            x = x[:, None]
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"expected input of shape [N, {self.in_features}], got {tuple(x.shape)}"
            )
        return x.to(self.linears()[0].weight.dtype)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``[N, in_features]`` (or ``[N]`` when ``in_features == 1``) -> ``[N]``."""
        return mlp_forward_trace(self, x).output


def mlp_forward_trace(model: NTKMLP, x: Tensor) -> MLPTrace:
    """Forward pass of ``model`` keeping every layer's input and pre-activation.

    Differentiable (autograd works through it); the structured NTK calls it under ``no_grad``.
    """
    a = model.check_input(x)
    inputs: list[Tensor] = []
    preacts: list[Tensor] = []
    scales = model.layer_scales()
    last = len(model.layers) - 1
    for i, (layer, (c_w, c_b)) in enumerate(zip(model.linears(), scales, strict=True)):
        inputs.append(a)
        z = a @ layer.weight.T
        if c_w != 1.0:
            z = z * c_w
        z = z + (layer.bias * c_b if c_b != 1.0 else layer.bias)
        preacts.append(z)
        a = torch.relu(z) if i < last else z
    return MLPTrace(inputs=inputs, preacts=preacts, output=preacts[-1][:, 0])


def mlp_backward_deltas(model: NTKMLP, trace: MLPTrace) -> list[Tensor]:
    """``delta_l = d f / d z_l`` for every layer, per sample (``[N, fan_out_l]``), without autograd.

    ``delta_last = 1``; ``delta_{l-1} = (delta_l @ (c_w W_l)) * 1[z_{l-1} > 0]`` (ReLU derivative
    taken as 0 at 0, as PyTorch's autograd does).
    """
    scales = model.layer_scales()
    n = trace.output.shape[0]
    delta = torch.ones(n, 1, dtype=trace.output.dtype, device=trace.output.device)
    deltas = [delta]
    layers = model.linears()
    for i in range(len(layers) - 1, 0, -1):
        c_w = scales[i][0]
        g = delta @ layers[i].weight
        if c_w != 1.0:
            g = g * c_w
        delta = g * (trace.preacts[i - 1] > 0).to(g.dtype)
        deltas.append(delta)
    deltas.reverse()
    return deltas
