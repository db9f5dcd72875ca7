"""Harmonic autoencoder (``spectral train hae``, the harmonic-autoencoder document) and its SAE
baseline.

Both models share one architecture so the comparison isolates the latent regularizer:
MLP encoder (L -> hidden -> hidden -> N) -> RMS normalization -> latent z (N = 64 by default)
-> MLP decoder (N -> hidden -> hidden -> L). The HAE is trained with the harmony contrast
(:mod:`spectral_cli.harmony.objective`), the SAE (``--baseline sae``) with an L1 penalty on z.

Where we differ from the original document (it specifies no architecture): the latent is normalized
to unit RMS (||z|| = sqrt(N)). The original document's dissonance grows with the squared amplitudes
and its alignment is scale-free, so with a free latent scale the harmony term is maximized by
shrinking z towards 0 while the decoder scales up (and the invalid-side term is unbounded below). A
fixed norm pins the scale: H is bounded on both sides and only the *shape* of the spectrum can
become harmonic. The SAE gets the same normalization, which also makes its L1 penalty a true
sparsity measure (L1 / L2 ratio) instead of a scale penalty. Sums z_a + z_b (the superposition
experiment) are fed to the decoder unnormalized.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator, model_validator
from torch import Tensor, nn

from spectral_cli.core.schema import DataConfig, Frozen, RunConfig, TrainConfig
from spectral_cli.harmony.dissonance import CriticalBand
from spectral_cli.harmony.measures import Variant
from spectral_cli.harmony.names import current_name

FAMILY = "hae"
SAE_FAMILY = "hae-sae-baseline"  # the baseline's checkpoint (harmony-score scores it too)


class HAEModelConfig(Frozen):
    """``model.*`` keys of the ``hae`` family.

    ``curriculum``: fractions of ``train.epochs`` for the original document's four phases
    (reconstruction only; lambda_h * ``warmup_fraction``; linear ramp to lambda_h; lambda_h plus
    adversarial invalid inputs). ``adv_epsilon``: FGSM step in units of each signal's standard
    deviation.
    """

    latent: int = Field(default=64, ge=2, le=4096)
    hidden: int = Field(default=256, ge=1)
    lambda_h: float = Field(default=0.1, ge=0.0)
    lambda_d: float = Field(default=0.0, ge=0.0)
    variant: Variant = "fixed"
    critical_band: CriticalBand | None = None
    alpha: float = 1.0
    beta: float = 0.5
    curriculum: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25)
    warmup_fraction: float = Field(default=0.1, gt=0.0, le=1.0)
    adv_epsilon: float = Field(default=0.5, ge=0.0)
    adv_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    baseline: Literal["none", "sae"] = "none"
    sae_l1: float = Field(default=0.01, ge=0.0)

    @field_validator("variant", "critical_band", mode="before")
    @classmethod
    def _renamed(cls, value: Any, info: ValidationInfo) -> Any:
        """``seed`` (deprecated) is ``original``."""
        if not isinstance(value, str):
            return value
        return current_name(value, f"model.{info.field_name}")

    @model_validator(mode="after")
    def _curriculum_sums_to_one(self) -> HAEModelConfig:
        if any(f < 0 for f in self.curriculum) or abs(sum(self.curriculum) - 1.0) > 1e-6:
            raise ValueError(
                f"curriculum fractions must be >= 0 and sum to 1, got {self.curriculum}"
            )
        return self


class HAEDataConfig(DataConfig):
    """``data.*``: MNIST-1D (or ``data.path`` .npz) signals, used raw (no tokenization).

    ``n_pairs``: test pairs for the superposition figures; ``invalid_seed`` seeds the fixed
    validation/test invalid sets.
    """

    n_pairs: int = Field(default=1000, ge=1)
    invalid_seed: int = 1234


class HAERunConfig(RunConfig):
    """A complete ``spectral train hae`` run."""

    family: str = FAMILY
    data: HAEDataConfig = HAEDataConfig()
    train: TrainConfig = TrainConfig(epochs=40, lr=1e-3, batch_size=128)
    model: HAEModelConfig = HAEModelConfig()


class HarmonicAutoencoder(nn.Module):
    """MLP encoder -> unit-RMS latent -> MLP decoder (see the module docstring)."""

    def __init__(self, signal_length: int, cfg: HAEModelConfig) -> None:
        super().__init__()
        h, n = cfg.hidden, cfg.latent
        self.encoder = nn.Sequential(
            nn.Linear(signal_length, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, n)
        )
        self.decoder = nn.Sequential(
            nn.Linear(n, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, signal_length)
        )
        self.signal_length, self.latent = signal_length, n

    def encode(self, x: Tensor) -> Tensor:
        """(..., L) signals -> (..., N) latents with RMS 1."""
        h = self.encoder(x)
        return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)

    def decode(self, z: Tensor) -> Tensor:
        """(..., N) latents (any norm) -> (..., L) signals."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(reconstruction, latent)."""
        z = self.encode(x)
        return self.decode(z), z


def build_hae(cfg: HAEModelConfig, signal_length: int) -> HarmonicAutoencoder:
    return HarmonicAutoencoder(signal_length, cfg)
