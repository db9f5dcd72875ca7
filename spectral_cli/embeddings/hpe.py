"""Harmonic Parameterized Embedding (HPE), seed document 000.

Each token's embedding is a sum of K learnable sinusoids over the normalized dimension index::

    E[i, j] = sum_k a[i, k] * sin(w[i, k] * j / D + phi[i, k]),   j = 0 .. D-1

so a token costs 3K parameters instead of D.

Two implementations of the same formula (``impl``):

* ``fast`` (default, :mod:`spectral_cli.embeddings.hpe_fast`): the angle-addition identity splits
  ``j = r*M + m`` so a row costs about 4K sqrt(D) sines and cosines and one small batched matrix
  product; the backward pass is analytic in the same sines and cosines, and the output's
  gradient is reduced per synthesized row (no dense V x D gradient).
* ``reference``: K*D sines per row in the forward pass, recomputed with cosines in a
  hand-written backward pass (:class:`_Synthesize`). Kept as the readable, checked baseline.

``compiled=True`` runs the fast path's forward and backward bodies through ``torch.compile``
(compiled lazily on the first call, tens of seconds; falls back to eager if compilation fails).
It pays off in long runs at language-model scale; the seed's training stays eager.

Which rows are synthesized (``strategy="auto"``, the default), for either implementation:

* ``table``: the whole V x D table, then a lookup. Cost independent of the batch; used when the
  batch has at least V tokens (for the seed's V=256 and a 256x40 batch, 40x fewer rows than one
  per token).
* ``rows``: only the distinct tokens of the batch (``torch.unique``), then index. Cost
  proportional to U <= min(tokens, V); used when the batch has fewer tokens than the vocabulary
  (language-model scale: V=50,000 with a few thousand tokens per step).

All combinations give the same values and gradients up to float rounding; tests check them
against a direct loop over the formula and against each other (gradcheck in float64).

Initialization (the seed document states none; this is our choice): a ~ N(0, 1/K),
w ~ N(0, pi^2), phi ~ U(0, 2*pi). Each is configurable (``amp_std``, ``freq_std``, ``phase_max``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spectral_cli.embeddings.hpe_fast import FastSynthesis

Strategy = Literal["auto", "table", "rows"]
Impl = Literal["fast", "reference"]


class _Synthesize(torch.autograd.Function):
    """sum_k a_k sin(w_k t + phi_k) with a hand-written backward that recomputes the phases.

    Autograd would keep the (..., K, D) phases and sines for the backward pass; this keeps only
    the (..., K) parameters and recomputes sin/cos there, with the three reductions as batched
    matrix-vector products: dE/da_k = sum_j g_j sin(theta_kj), dE/dphi_k = a_k sum_j g_j
    cos(theta_kj), dE/dw_k = a_k sum_j g_j t_j cos(theta_kj).
    """

    @staticmethod
    def forward(
        ctx: Any, amplitudes: Tensor, frequencies: Tensor, phases: Tensor, positions: Tensor
    ) -> Tensor:
        theta = torch.addcmul(phases.unsqueeze(-1), frequencies.unsqueeze(-1), positions)
        ctx.save_for_backward(amplitudes, frequencies, phases, positions)
        return (amplitudes.unsqueeze(-2) @ torch.sin_(theta)).squeeze(-2)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        amplitudes, frequencies, phases, positions = ctx.saved_tensors
        theta = torch.addcmul(phases.unsqueeze(-1), frequencies.unsqueeze(-1), positions)
        g = grad.unsqueeze(-1)  # (..., D, 1)
        grad_a = (torch.sin(theta) @ g).squeeze(-1)
        cos = torch.cos_(theta)
        grad_phi = amplitudes * (cos @ g).squeeze(-1)
        grad_w = amplitudes * (cos @ (grad * positions).unsqueeze(-1)).squeeze(-1)
        return grad_a, grad_w, grad_phi, None


def synthesize(
    amplitudes: Tensor, frequencies: Tensor, phases: Tensor, positions: Tensor
) -> Tensor:
    """Rows sum_k a[.., k] sin(w[.., k] * positions + phi[.., k]); (..., K) inputs -> (..., D).

    Memory: the forward pass holds one (..., K, D) tensor transiently and saves only the
    (..., K) parameters for backward, which recomputes the phases (see :class:`_Synthesize`).
    """
    return _Synthesize.apply(amplitudes, frequencies, phases, positions)


class HarmonicEmbedding(nn.Module):
    """Drop-in replacement for ``nn.Embedding``: integer tokens of any shape -> (..., D).

    Row ``i`` of the (never stored) table is ``sum_k a_ik sin(w_ik j + phi_ik)`` over the
    embedding dimensions ``j``: 3K parameters per token instead of D.

    Example:
        >>> import torch
        >>> from spectral_cli import HarmonicEmbedding
        >>> emb = HarmonicEmbedding(256, 64, k=13)
        >>> emb(torch.tensor([[1, 2, 3]])).shape
        torch.Size([1, 3, 64])
        >>> sum(p.numel() for p in emb.parameters())  # 256 tokens x 3 x 13
        9984"""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        k: int,
        *,
        amp_std: float | None = None,
        freq_std: float = math.pi,
        phase_max: float = 2.0 * math.pi,
        strategy: Strategy = "auto",
        impl: Impl = "fast",
        compiled: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1 or k < 1:
            raise ValueError("num_embeddings, embedding_dim and k must be positive")
        if strategy not in ("auto", "table", "rows"):
            raise ValueError(f"strategy must be auto, table or rows, not {strategy!r}")
        if impl not in ("fast", "reference"):
            raise ValueError(f"impl must be fast or reference, not {impl!r}")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.k = k
        self.amp_std = (1.0 / math.sqrt(k)) if amp_std is None else float(amp_std)
        self.freq_std = float(freq_std)
        self.phase_max = float(phase_max)
        self.strategy: Strategy = strategy
        self.impl: Impl = impl
        self.compiled = bool(compiled)
        self.amplitudes = nn.Parameter(torch.empty(num_embeddings, k, device=device, dtype=dtype))
        self.frequencies = nn.Parameter(torch.empty(num_embeddings, k, device=device, dtype=dtype))
        self.phases = nn.Parameter(torch.empty(num_embeddings, k, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """a ~ N(0, amp_std^2), w ~ N(0, freq_std^2), phi ~ U(0, phase_max)."""
        with torch.no_grad():
            self.amplitudes.normal_(0.0, self.amp_std)
            self.frequencies.normal_(0.0, self.freq_std)
            self.phases.uniform_(0.0, self.phase_max)

    @property
    def positions(self) -> Tensor:
        """j / D for j = 0..D-1, in the parameters' dtype and device (exact in float64)."""
        p = self.amplitudes
        return torch.arange(self.embedding_dim, device=p.device, dtype=p.dtype) / self.embedding_dim

    @property
    def weight(self) -> Tensor:
        """The full V x D embedding table (synthesized; differentiable)."""
        if self.impl == "fast":
            return FastSynthesis.apply(
                self.amplitudes,
                self.frequencies,
                self.phases,
                None,
                None,
                self.embedding_dim,
                self.compiled,
            )
        return synthesize(self.amplitudes, self.frequencies, self.phases, self.positions)

    def resolve_strategy(self, n_tokens: int) -> Literal["table", "rows"]:
        """Which path ``forward`` takes for a batch of ``n_tokens`` tokens."""
        if self.strategy != "auto":
            return self.strategy
        return "table" if n_tokens >= self.num_embeddings else "rows"

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"HarmonicEmbedding expects integer tokens, got {tokens.dtype}")
        table = self.resolve_strategy(tokens.numel()) == "table"
        if self.impl == "fast":
            params = (self.amplitudes, self.frequencies, self.phases)
            if table:  # out-of-range tokens raise IndexError in index_select
                return FastSynthesis.apply(*params, None, tokens, self.embedding_dim, self.compiled)
            unique, inverse = torch.unique(tokens, return_inverse=True)
            return FastSynthesis.apply(*params, unique, inverse, self.embedding_dim, self.compiled)
        if table:
            return F.embedding(tokens, self.weight)
        unique, inverse = torch.unique(tokens, return_inverse=True)
        a, w, p = self.amplitudes[unique], self.frequencies[unique], self.phases[unique]
        rows = synthesize(a, w, p, self.positions)
        return rows[inverse]

    def extra_repr(self) -> str:
        return (
            f"{self.num_embeddings}, {self.embedding_dim}, k={self.k}, "
            f"strategy={self.strategy}, impl={self.impl}"
            + (", compiled=True" if self.compiled else "")
        )
