"""The ONNX form of a harmonic embedding: the table strategy with plain tensor ops.

``HarmonicEmbedding`` computes its rows with a custom ``autograd.Function`` and picks its
strategy (whole table or the batch's distinct tokens) from the batch size; a traced graph would
freeze whichever strategy the example batch took, and the custom function is the part that
changes when the layer is optimized. For export, :func:`use_table_strategy` swaps the module for
:class:`HarmonicTable`, which holds the *same* parameters and synthesizes the whole table
inside the graph on every run (``Sin``, ``Mul``, ``MatMul``, then ``Gather`` of the rows)::

    E[i, j] = sum_k a[i, k] * sin(w[i, k] * j / D + phi[i, k]),   j = 0 .. D-1

It is not a switch to a dense model: the graph's weights are ``a``, ``w`` and ``phi`` (3K per
token), and the swap is refused unless the replacement reproduces the module's own table.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spectral_cli.core.errors import CheckFailed

PARAMETERS = ("amplitudes", "frequencies", "phases")
TOLERANCE = 1e-5  # on |difference| / max(1, |value|) of the table entries


class HarmonicTable(nn.Module):
    """Integer tokens (..., ) -> rows (..., D) of the table synthesized from ``a, w, phi``."""

    def __init__(
        self,
        amplitudes: nn.Parameter,
        frequencies: nn.Parameter,
        phases: nn.Parameter,
        embedding_dim: int,
    ) -> None:
        super().__init__()
        self.amplitudes, self.frequencies, self.phases = amplitudes, frequencies, phases
        self.embedding_dim = embedding_dim

    def table(self) -> Tensor:
        a, w, phi = self.amplitudes, self.frequencies, self.phases
        positions = torch.arange(self.embedding_dim, dtype=a.dtype, device=a.device)
        theta = phi.unsqueeze(-1) + w.unsqueeze(-1) * (positions / self.embedding_dim)
        return (a.unsqueeze(-2) @ torch.sin(theta)).squeeze(-2)  # (V, 1, K) @ (V, K, D)

    def forward(self, tokens: Tensor) -> Tensor:
        return F.embedding(tokens, self.table())


def harmonic_table(module: nn.Module) -> HarmonicTable:
    """The replacement of ``module``, sharing its parameters; refused if it does not
    reproduce ``module``'s table on every token."""
    missing = [n for n in (*PARAMETERS, "embedding_dim") if not hasattr(module, n)]
    if missing:
        raise CheckFailed(
            f"{type(module).__name__} has no {', '.join(missing)}: the harmonic "
            "embedding changed, the ONNX table strategy must follow it"
        )
    a, w, phi, dim = (getattr(module, n) for n in (*PARAMETERS, "embedding_dim"))
    table = HarmonicTable(a, w, phi, int(dim))
    vocab = int(table.amplitudes.shape[0])
    with torch.no_grad():
        tokens = torch.arange(vocab, device=table.amplitudes.device)
        want, got = module(tokens).double(), table(tokens).double()
    err = float(((want - got).abs() / want.abs().clamp(min=1.0)).max())
    if not err <= TOLERANCE:
        raise CheckFailed(
            f"the ONNX table strategy differs from {type(module).__name__} by "
            f"{err:.3g} (> {TOLERANCE:g}): the embedding's formula changed"
        )
    return table


def use_table_strategy(model: nn.Module, path: str) -> None:
    """Replace the submodule ``path`` of ``model`` by its :class:`HarmonicTable` in place."""
    parent_name, _, child = path.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, harmonic_table(model.get_submodule(path)))
