"""Factorized (low-rank) embedding: a V x K lookup followed by a bias-free K -> D projection."""

from __future__ import annotations

from torch import Tensor, nn


class FactorizedEmbedding(nn.Module):
    """``nn.Embedding(V, K)`` then ``nn.Linear(K, D, bias=False)``: V*K + K*D parameters."""

    def __init__(self, num_embeddings: int, embedding_dim: int, k: int) -> None:
        super().__init__()
        self.lookup = nn.Embedding(num_embeddings, k)
        self.project = nn.Linear(k, embedding_dim, bias=False)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.project(self.lookup(tokens))
