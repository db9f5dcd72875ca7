"""Evaluation of (harmonic) autoencoders: AUROC, harmony distributions, superposition errors.

Shared by ``spectral train hae`` and ``spectral harmony-score --checkpoint``. A model here is
anything with ``encode(x) -> z`` and ``decode(z) -> x`` (:class:`~spectral_cli.harmony.models.
HarmonicAutoencoder`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import BaseModel
from torch import Tensor

from spectral_cli.harmony.measures import harmony_scores


def auroc(positive: np.ndarray | Tensor, negative: np.ndarray | Tensor) -> float:
    """Area under the ROC curve of ``score`` as a detector of the positive class.

    Mann-Whitney form: P(s_pos > s_neg) + 0.5 * P(s_pos == s_neg), from average ranks (ties
    count one half). Both sides must be non-empty and finite.
    """
    # scipy ships no type information (stubs are the separate scipy-stubs package)
    from scipy.stats import rankdata

    pos = np.asarray(torch.as_tensor(positive).detach().cpu().double()).ravel()
    neg = np.asarray(torch.as_tensor(negative).detach().cpu().double()).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("AUROC needs at least one positive and one negative score")
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2
    return float(u / (pos.size * neg.size))


def stats(values: np.ndarray | Tensor) -> dict[str, float]:
    """mean, std, min, 5/50/95 % quantiles and max of a 1-D sample."""
    v = np.asarray(torch.as_tensor(values).detach().cpu().double()).ravel()
    q = np.quantile(v, [0.05, 0.5, 0.95])
    return {
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "q05": float(q[0]),
        "median": float(q[1]),
        "q95": float(q[2]),
        "max": float(v.max()),
    }


@torch.no_grad()
def encode_all(model: Any, x: Tensor, device: torch.device, batch: int = 4096) -> Tensor:
    """Latents of ``x`` (on CPU), in eval mode, in batches."""
    model.eval()
    parts = [model.encode(x[i : i + batch].to(device)).cpu() for i in range(0, x.shape[0], batch)]
    return torch.cat(parts)


@torch.no_grad()
def reconstruction_mse(model: Any, x: Tensor, device: torch.device) -> float:
    """Mean squared error of decode(encode(x)) over all samples and positions."""
    z = encode_all(model, x, device)
    return float(((model.decode(z.to(device)).cpu() - x) ** 2).mean())


def harmony(z: Tensor, score_kwargs: dict[str, Any]) -> Tensor:
    """Harmony H of each latent (float64 on CPU, for stable statistics)."""
    return harmony_scores(z.detach().double().cpu(), **score_kwargs).harmony


class Detection(BaseModel):
    """Harmony as a valid-vs-invalid detector: the report fields ``train hae`` and
    ``harmony-score --checkpoint`` share."""

    auroc: float
    auroc_by_kind: dict[str, float]
    harmony_valid: dict[str, float]
    harmony_invalid: dict[str, float]
    harmony_invalid_by_kind: dict[str, dict[str, float]]


def detector(
    model: Any,
    valid: Tensor,
    invalid: dict[str, Tensor],
    device: torch.device,
    score_kwargs: dict[str, Any],
) -> tuple[Detection, dict[str, np.ndarray]]:
    """Harmony of valid vs each invalid kind: distributions, AUROC overall and per kind, plus
    the raw harmony values for histograms: ``valid`` and one array per invalid kind."""
    h_valid = harmony(encode_all(model, valid, device), score_kwargs)
    h_invalid = {k: harmony(encode_all(model, v, device), score_kwargs) for k, v in invalid.items()}
    every = torch.cat(list(h_invalid.values()))
    detection = Detection(
        auroc=auroc(h_valid, every),
        auroc_by_kind={k: auroc(h_valid, v) for k, v in h_invalid.items()},
        harmony_valid=stats(h_valid),
        harmony_invalid=stats(every),
        harmony_invalid_by_kind={k: stats(v) for k, v in h_invalid.items()},
    )
    return detection, {"valid": h_valid.numpy(), **{k: v.numpy() for k, v in h_invalid.items()}}


@torch.no_grad()
def superposition(
    model: Any,
    x: Tensor,
    n_pairs: int,
    seed: int,
    device: torch.device,
    score_kwargs: dict[str, Any],
) -> dict[str, float]:
    """The original document's superposition question on ``n_pairs`` random pairs (a != b) of ``x``.

    ``err_vs_inputs``: MSE of decode(z_a + z_b) against x_a + x_b; ``err_vs_decodes``: against
    decode(z_a) + decode(z_b); ``err_parts_vs_inputs``: decode(z_a) + decode(z_b) against
    x_a + x_b (what a perfectly additive decoder would reach). ``rel_*``: the same divided by the
    mean square of x_a + x_b. ``harmony_of_sum``: mean H of (z_a + z_b) rescaled to unit RMS
    (the latents' own norm, so it compares with the valid latents' H); ``*_std``: spread over pairs.
    """
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    a = torch.randint(n, (n_pairs,), generator=gen)
    b = (a + torch.randint(1, max(n, 2), (n_pairs,), generator=gen)) % max(n, 1)
    xa, xb = x[a].to(device), x[b].to(device)
    za, zb = model.encode(xa), model.encode(xb)
    target = xa + xb
    d_sum = model.decode(za + zb)
    d_parts = model.decode(za) + model.decode(zb)
    per_pair = {
        "err_vs_inputs": ((d_sum - target) ** 2).mean(-1),
        "err_vs_decodes": ((d_sum - d_parts) ** 2).mean(-1),
        "err_parts_vs_inputs": ((d_parts - target) ** 2).mean(-1),
    }
    power = float((target**2).mean())
    out: dict[str, float] = {"n_pairs": float(n_pairs), "target_power": power}
    for key, v in per_pair.items():
        out[key] = float(v.mean())
        out[f"{key}_std"] = float(v.std(correction=0))
        out[f"rel_{key}"] = float(v.mean()) / power
    s = za + zb
    s = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + 1e-12)
    h_sum = harmony(s, score_kwargs)
    out["harmony_of_sum"], out["harmony_of_sum_std"] = float(h_sum.mean()), float(h_sum.std())
    return out
