"""The ONNX form of a float64 ``nn.LSTM``: its cell written out with plain tensor ops.

ONNX Runtime's ``LSTM`` kernel takes float32 only ("LSTM operator does not support double"), and
the spectra-lstm family trains in float64 by default. For export, :func:`unroll_double_lstms`
swaps every float64 ``nn.LSTM`` (one layer, one direction, ``batch_first``, no projection) for
:class:`UnrolledLSTM`, which holds the *same* parameters and runs PyTorch's cell equations step
by step (``MatMul``, ``Sigmoid``, ``Tanh`` have double kernels); the trace unrolls the steps,
which matches the graph's fixed time axis. The swap is refused unless it reproduces the module.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spectral_cli.core.errors import CheckFailed

TOLERANCE = 1e-10  # float64: |difference| / max(1, |value|)


class UnrolledLSTM(nn.Module):
    """``nn.LSTM`` equations, i, f, g, o gate order, zero initial state."""

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.weight_ih = lstm.get_parameter("weight_ih_l0")
        self.weight_hh = lstm.get_parameter("weight_hh_l0")
        self.bias_ih = lstm.get_parameter("bias_ih_l0")
        self.bias_hh = lstm.get_parameter("bias_hh_l0")
        self.hidden_size = lstm.hidden_size

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        batch, steps, _ = x.shape
        gates_x = x @ self.weight_ih.t() + (self.bias_ih + self.bias_hh)
        h = x.new_zeros(batch, self.hidden_size)
        c = torch.zeros_like(h)
        outputs = []
        for t in range(steps):
            i, f, g, o = (gates_x[:, t] + h @ self.weight_hh.t()).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h[None], c[None])


def _plain(lstm: nn.LSTM) -> bool:
    return (
        lstm.num_layers == 1
        and not lstm.bidirectional
        and lstm.batch_first
        and lstm.bias
        and lstm.proj_size == 0
    )


def unroll_double_lstms(model: nn.Module, example: Tensor) -> int:
    """Replace every float64 ``nn.LSTM`` of ``model`` in place; the number replaced. The model's
    output on ``example`` must not change."""
    targets = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.LSTM) and m.weight_ih_l0.dtype == torch.float64
    ]
    if not targets:
        return 0
    with torch.no_grad():
        before = model(example)
    for name, lstm in targets:
        if not _plain(lstm):
            raise CheckFailed(
                f"{name}: a float64 nn.LSTM with several layers, directions or a "
                "projection has no ONNX Runtime kernel; train in float32"
            )
        parent_name, _, child = name.rpartition(".")
        setattr(
            model.get_submodule(parent_name) if parent_name else model, child, UnrolledLSTM(lstm)
        )
    with torch.no_grad():
        after = model(example)
    pairs = zip(*(o if isinstance(o, tuple) else (o,) for o in (before, after)), strict=True)
    err = max(float(((a - b).abs() / a.abs().clamp(min=1.0)).max()) for a, b in pairs)
    if not err <= TOLERANCE:
        raise CheckFailed(f"the unrolled float64 LSTM differs from nn.LSTM by {err:.3g}")
    return len(targets)
