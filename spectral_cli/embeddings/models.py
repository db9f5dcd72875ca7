"""The HPE document's token classifier: configs and the model of the three embedding families.

Architecture (the HPE document): token embedding (V=256, D=64) + learned positional embedding
(L x D) -> 2 post-norm ``nn.TransformerEncoderLayer`` (4 heads, feed-forward 128, dropout 0.1,
batch_first) -> mean pooling over positions -> ``Linear(D, classes)``. With the defaults the
trainable parameter counts are 86,538 (standard), 83,914 (factorized, K=43) and 80,138 (HPE, K=13).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from spectral_cli.core.limits import MAX_LAYERS
from spectral_cli.core.schema import Frozen
from spectral_cli.embeddings.factorized import FactorizedEmbedding
from spectral_cli.embeddings.hpe import HarmonicEmbedding
from spectral_cli.embeddings.tokens import TokenDataInfo


class TransformerConfig(Frozen):
    """``model.*`` keys shared by the token-classifier families."""

    d_model: int = Field(default=64, ge=1)
    n_heads: int = Field(default=4, ge=1)
    n_layers: int = Field(default=2, ge=1, le=MAX_LAYERS)
    ff_dim: int = Field(default=128, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerConfig:
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        return self


class StandardConfig(TransformerConfig):
    """Standard lookup table, V x D."""


class FactorizedConfig(TransformerConfig):
    """Low-rank lookup V x K then K -> D."""

    k: int = Field(default=43, ge=1)


class HPEConfig(TransformerConfig):
    """Harmonic embedding with K oscillators per token; ``amp_std`` null means 1/sqrt(K).

    ``impl`` picks the synthesis: ``fast`` (angle addition, analytic backward; the default) or
    ``reference`` (K*D sines per row); both compute the same formula up to float rounding.
    ``compiled`` runs the fast path's whole forward and backward bodies through
    ``torch.compile`` (fused loops; worth its one-off compile time only for long runs).
    """

    k: int = Field(default=13, ge=1)
    amp_std: float | None = Field(default=None, gt=0.0)
    freq_std: float = Field(default=math.pi, ge=0.0)
    phase_max: float = Field(default=2.0 * math.pi, ge=0.0)
    strategy: Literal["auto", "table", "rows"] = "auto"
    impl: Literal["fast", "reference"] = "fast"
    compiled: bool = False


class TokenTransformer(nn.Module):
    """Embedding + positional embedding -> post-norm Transformer encoder -> mean pool -> linear."""

    position_ids: Tensor  # buffer

    def __init__(self, embedding: nn.Module, cfg: TransformerConfig, info: TokenDataInfo) -> None:
        super().__init__()
        self.embedding = embedding
        self.positional = nn.Embedding(info.seq_len, cfg.d_model)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model,
            cfg.n_heads,
            dim_feedforward=cfg.ff_dim,
            dropout=cfg.dropout,
            batch_first=True,
            norm_first=False,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(cfg.d_model, info.num_classes)
        self.register_buffer("position_ids", torch.arange(info.seq_len), persistent=False)

    def forward(self, tokens: Tensor) -> Tensor:
        """(batch, L) integer tokens -> (batch, classes) logits."""
        length = tokens.shape[-1]
        if length > self.position_ids.numel():
            raise ValueError(f"sequence length {length} exceeds {self.position_ids.numel()}")
        h = self.embedding(tokens) + self.positional(self.position_ids[:length])
        return self.head(self.encoder(h).mean(dim=1))


def build_standard(cfg: StandardConfig, info: TokenDataInfo) -> TokenTransformer:
    return TokenTransformer(nn.Embedding(info.vocab_size, cfg.d_model), cfg, info)


def build_factorized(cfg: FactorizedConfig, info: TokenDataInfo) -> TokenTransformer:
    return TokenTransformer(FactorizedEmbedding(info.vocab_size, cfg.d_model, cfg.k), cfg, info)


def build_hpe(cfg: HPEConfig, info: TokenDataInfo) -> TokenTransformer:
    embedding = HarmonicEmbedding(
        info.vocab_size,
        cfg.d_model,
        cfg.k,
        amp_std=cfg.amp_std,
        freq_std=cfg.freq_std,
        phase_max=cfg.phase_max,
        strategy=cfg.strategy,
        impl=cfg.impl,
        compiled=cfg.compiled,
    )
    return TokenTransformer(embedding, cfg, info)
