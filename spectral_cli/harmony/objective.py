"""Losses, curriculum and validation metrics of ``spectral train hae``.

HAE loss = MSE(decode(z), x) + w(epoch) * [lambda_h * (-mean H(z_valid) + mean H(z_invalid))
+ lambda_d * (mean D(z_valid) - mean D(z_invalid))], via
:func:`spectral_cli.harmony.measures.harmony_loss` (the sign the original document's *text* intends;
its code has the opposite sign). Curriculum (the original document's four phases, lengths =
``model.curriculum`` x ``train.epochs``, rounded at the boundaries):

0. reconstruction only (w = 0);
1. w = ``warmup_fraction``;
2. w ramps linearly per epoch from ``warmup_fraction`` to 1;
3. w = 1, and a fraction ``adv_fraction`` of the invalid inputs are FGSM adversarial examples:
   valid signals moved by ``adv_epsilon`` * (their std) * sign(grad_x H(encode(x))), i.e. the
   one step that makes them most harmonic, then trained as invalid (pushed to dissonance).

Invalid inputs are drawn per sample from :mod:`spectral_cli.harmony.invalid`. The SAE baseline's
loss is MSE + ``sae_l1`` * mean |z|. Both report, as the loop's "accuracy", the fraction of
(valid_i, invalid_i) pairs with H(valid_i) > H(invalid_i) (``train_acc``, a pairwise detection
accuracy) and the validation AUROC of H (``val_auroc``). Model selection: the lowest validation
loss at the *target* weights (w = 1) among the epochs of the last non-empty phase (the objective
changes during the curriculum, so earlier losses are not comparable).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spectral_cli.harmony.detection import auroc, encode_all
from spectral_cli.harmony.invalid import random_invalid
from spectral_cli.harmony.measures import harmony_loss, harmony_scores
from spectral_cli.harmony.models import HAEModelConfig, HarmonicAutoencoder


def score_kwargs(cfg: HAEModelConfig) -> dict[str, Any]:
    """The harmony measure the model is trained with (variant, band, alpha, beta)."""
    return {
        "variant": cfg.variant,
        "critical_band": cfg.critical_band,
        "alpha": cfg.alpha,
        "beta": cfg.beta,
    }


class Curriculum:
    """Phase and harmony weight of each (0-based) epoch."""

    def __init__(self, cfg: HAEModelConfig, epochs: int) -> None:
        self.cfg, self.epochs = cfg, epochs
        total, self.bounds = 0.0, []
        for frac in cfg.curriculum:
            total += frac
            self.bounds.append(round(total * epochs))
        self.bounds[-1] = epochs

    def phase(self, epoch: int) -> int:
        return next(k for k, b in enumerate(self.bounds) if epoch < b) if epoch < self.epochs else 3

    def weight(self, epoch: int) -> float:
        phase, warm = self.phase(epoch), self.cfg.warmup_fraction
        if phase == 0:
            return 0.0
        if phase == 1:
            return warm
        if phase == 2:
            start, end = self.bounds[1], self.bounds[2]
            return warm + (1.0 - warm) * (epoch - start + 1) / max(end - start, 1)
        return 1.0

    def select_from_epoch(self) -> int:
        """1-based first epoch of the last non-empty phase."""
        starts = [0, *self.bounds[:-1]]
        last = max(k for k in range(4) if self.bounds[k] > starts[k])
        return starts[last] + 1


def fgsm_toward_harmony(
    model: HarmonicAutoencoder, x: Tensor, epsilon: float, kwargs: dict[str, Any]
) -> Tensor:
    """x + epsilon * std(x) * sign(grad_x H(encode(x))) (no gradient to the parameters)."""
    x_req = x.detach().requires_grad_(True)
    h = harmony_scores(model.encode(x_req), **kwargs).harmony.sum()
    (grad,) = torch.autograd.grad(h, x_req)
    return (x + epsilon * x.std(-1, keepdim=True, correction=0) * grad.sign()).detach()


class HAEObjective:
    """``loss_fn`` and ``on_epoch_start`` for the :class:`~spectral_cli.core.trainer.Trainer`."""

    def __init__(self, cfg: HAEModelConfig, epochs: int) -> None:
        self.cfg, self.curriculum = cfg, Curriculum(cfg, epochs)
        self.kwargs = score_kwargs(cfg)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def invalid_batch(self, model: HarmonicAutoencoder, x: Tensor, y: Tensor) -> Tensor:
        x_inv = random_invalid(x, y)
        if self.curriculum.phase(self.epoch) == 3 and self.cfg.adv_fraction > 0:
            adv = torch.rand(x.shape[0]).to(x.device) < self.cfg.adv_fraction
            x_adv = fgsm_toward_harmony(model, x, self.cfg.adv_epsilon, self.kwargs)
            x_inv = torch.where(adv[:, None], x_adv, x_inv)
        return x_inv

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        assert isinstance(model, HarmonicAutoencoder)
        recon, z = model(x)
        loss = F.mse_loss(recon, x)
        w = self.curriculum.weight(self.epoch)
        x_inv = self.invalid_batch(model, x, y)
        if w > 0:
            z_inv = model.encode(x_inv)
            loss = loss + harmony_loss(
                z, z_inv, w * self.cfg.lambda_h, w * self.cfg.lambda_d, **self.kwargs
            )
        else:
            with torch.no_grad():
                z_inv = model.encode(x_inv)
        return loss, pair_hits(z, z_inv, self.kwargs)

    def target_loss(self, recon: Tensor, x: Tensor, z: Tensor, z_inv: Tensor) -> float:
        h = harmony_loss(z, z_inv, self.cfg.lambda_h, self.cfg.lambda_d, **self.kwargs)
        return float(F.mse_loss(recon, x) + h)


class SAEObjective:
    """Sparse-autoencoder baseline: MSE + ``sae_l1`` * mean |z| (same architecture)."""

    def __init__(self, cfg: HAEModelConfig) -> None:
        self.cfg, self.kwargs = cfg, score_kwargs(cfg)

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        assert isinstance(model, HarmonicAutoencoder)
        recon, z = model(x)
        loss = F.mse_loss(recon, x) + self.cfg.sae_l1 * z.abs().mean()
        with torch.no_grad():
            z_inv = model.encode(random_invalid(x, y))
        return loss, pair_hits(z, z_inv, self.kwargs)

    def target_loss(self, recon: Tensor, x: Tensor, z: Tensor, z_inv: Tensor) -> float:
        return float(F.mse_loss(recon, x) + self.cfg.sae_l1 * z.abs().mean())


@torch.no_grad()
def pair_hits(z: Tensor, z_inv: Tensor, kwargs: dict[str, Any]) -> Tensor:
    """How many pairs have H(valid_i) > H(invalid_i)."""
    return (
        harmony_scores(z.detach(), **kwargs).harmony
        > harmony_scores(z_inv.detach(), **kwargs).harmony
    ).sum()


def validation_fn(
    objective: HAEObjective | SAEObjective, x_val: Tensor, x_inv: Tensor, device: torch.device
) -> Any:
    """The loop's ``evaluate_fn``: target loss, AUROC of H, reconstruction MSE, mean H."""

    @torch.no_grad()
    def evaluate(model: HarmonicAutoencoder) -> dict[str, float]:
        z, z_inv = encode_all(model, x_val, device), encode_all(model, x_inv, device)
        recon = model.decode(z.to(device)).cpu()
        h_v = harmony_scores(z, **objective.kwargs).harmony
        h_i = harmony_scores(z_inv, **objective.kwargs).harmony
        return {
            "val_loss": objective.target_loss(recon, x_val, z, z_inv),
            "val_auroc": auroc(h_v, h_i),
            "val_mse": float(F.mse_loss(recon, x_val)),
            "val_h_valid": float(h_v.mean()),
            "val_h_invalid": float(h_i.mean()),
        }

    return evaluate
