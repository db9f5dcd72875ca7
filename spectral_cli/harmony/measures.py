"""Differentiable harmony and dissonance measures for latent vectors.

A latent vector ``z`` of length N is read as a spectrum: index k is a frequency, ``z[..., k]`` its
amplitude. Every function is batched over leading dimensions, differentiable, and keeps the dtype
and device of its inputs. The combined score is H = alpha * alignment - beta * sum_{i<j} D_ij, the
pairwise dissonance D_ij coming from :mod:`spectral_cli.harmony.dissonance`.

The measures come from the harmonic-autoencoder document (the "original document" below);
:func:`harmony_scores` has two variants.

``variant="original"`` reproduces the document's ``HAELoss.harmony_loss`` exactly, vectorized:
frequencies 0..N-1, hard mask ``z > 1e-6``, the first active index as fundamental, harmonics
1..|F|, the document's critical band, all-inactive vector -> 0. It computes in ``z``'s dtype (the
document's code promotes its integer frequencies to torch's default dtype, float32, for the
critical band and accumulates the dissonance in float32; the test transcription runs it with
float64 as default dtype). ``"seed"`` is its deprecated old name
(:mod:`spectral_cli.harmony.names`).

``variant="fixed"`` (default) differs from the original document on purpose; each line is pinned
by a test in ``tests/harmony/test_harmony_core.py``:

- F1 frequencies are index + 1 (1..N), so the fundamental can never be 0 (the original: an active
  index 0 makes every harmonic 0).
- F2 amplitudes are a smooth |z|, ``hypot(z, eps_a) - eps_a`` (eps_a = 1e-3): negative latents
  count (their sign is a phase), it is exactly 0 at z = 0 with gradient 0 there, and it is smooth
  everywhere (the original's hard mask drops negatives and passes no gradient through the
  selection).
- F3 the fundamental is a soft "first active component": component k is active with probability
  g_k = 1 - exp(-a_k / tau) (tau = ``gate_scale`` = 0.1), f0 = sum_k g_k prod_{j<k}(1 - g_j) f_k,
  with the leftover probability on the lowest frequency; f0 >= 1 and is differentiable in z.
  As in the original, a strong lowest component (f0 ~ 1) makes every grid frequency a harmonic,
  so the alignment is then ~0, its maximum; the dissonance term is what separates such vectors.
- F4 the harmonic grid is unbounded (n = 1, 2, ...); the original's stops at |F| * f0.
- F5 the default critical band is Hutchinson-Knopoff, 1.72 * mean(f)^0.65 (the original's
  1.72 * mean(f) * 0.001 makes every pair's dissonance ~0 unless frequencies are in the thousands).
- F6 no division by zero anywhere; gradients are finite everywhere, including at z = 0.

Deliberate differences from the original document's *text* (we follow its code): the dissonance
is summed over pairs i < j and subtracted (the text writes ``+ beta * sum_i sum_j``).
:func:`harmony_loss` uses the sign the text intends (the document's ``HAELoss`` adds ``+lambda *
harmony`` to a minimized loss, which pushes valid inputs away from harmony).
:func:`ratio_harmony` clamps the lower frequency at ``eps`` (the original document divides by
zero at frequency 0; ``eps=0`` reproduces it).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from spectral_cli.harmony.dissonance import CRITICAL_BANDS, CriticalBand, pairwise_dissonance
from spectral_cli.harmony.names import current_name

Variant = Literal["original", "fixed"]
VARIANTS: tuple[str, ...] = ("original", "fixed")
DEFAULT_CRITICAL_BAND: dict[str, CriticalBand] = {
    "original": "original",
    "fixed": "hutchinson-knopoff",
}
SIMPLE_RATIOS: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0)
ORIGINAL_ACTIVE_THRESHOLD = 1e-6
ORIGINAL_EPS = 1e-8
_EXP_CLAMP = 80.0


class HarmonyScores(NamedTuple):
    """Per-vector scores, each of shape ``z.shape[:-1]``.

    ``alignment`` is the raw harmonic alignment (alpha not applied), ``dissonance`` the raw
    sum_{i<j} D_ij (beta not applied), ``harmony`` = alpha * alignment - beta * dissonance.
    """

    alignment: Tensor
    dissonance: Tensor
    harmony: Tensor


def ratio_harmony(
    f1: Tensor, f2: Tensor, a1: Tensor | float, a2: Tensor | float, eps: float = 1e-6
) -> Tensor:
    """-min_r |max(f1, f2) / min(f1, f2) - r| * a1 * a2, r in {1, 1.5, 2, 2.5, 3}; elementwise.

    Differs from the original document: the lower frequency is clamped at ``eps`` (no division by
    zero at frequency 0; the value there is large and negative but finite). ``eps=0`` is the
    original document.
    """
    lo = torch.minimum(f1, f2)
    if eps > 0:
        lo = lo.clamp_min(eps)
    ratio = torch.maximum(f1, f2) / lo
    simple = torch.tensor(SIMPLE_RATIOS, dtype=ratio.dtype, device=ratio.device)
    distance = (ratio[..., None] - simple).abs().amin(-1)
    return -distance * a1 * a2


def spectral_correlation(
    spec1: Tensor,
    spec2: Tensor,
    amp1: Tensor | float = 1.0,
    amp2: Tensor | float = 1.0,
    eps: float = ORIGINAL_EPS,
) -> Tensor:
    """<w1, w2> / (|w1| |w2| + eps) over the last dimension, w = spec * amp (the original document's
    formula).

    Batched: one correlation per leading index (the original document's code reduces over the whole
    tensor). The gradient at a zero spectrum is finite (vector_norm's subgradient at 0 is 0).
    """
    w1, w2 = spec1 * amp1, spec2 * amp2
    norms = torch.linalg.vector_norm(w1, dim=-1) * torch.linalg.vector_norm(w2, dim=-1)
    return (w1 * w2).sum(-1) / (norms + eps)


def harmonic_alignment(
    frequencies: Tensor,
    amplitudes: Tensor,
    fundamental: Tensor,
    max_harmonic: Tensor | None = None,
    eps: float = ORIGINAL_EPS,
) -> Tensor:
    """-sum_k a_k min_n |f_k - n f0| / (sum_k a_k + eps) over the last dimension.

    ``fundamental`` has the leading shape; n runs over 1..``max_harmonic`` (per vector; the original
    uses |F|) or over all n >= 1 when it is None. The nearest harmonic is found in closed form,
    n = clamp(round(f / f0), 1, max_harmonic), O(N) per vector; f0 = 0 gives deviation |f|.
    """
    f0 = fundamental[..., None]
    safe_f0 = torch.where(f0 > 0, f0, torch.ones_like(f0))
    n = torch.round(frequencies / safe_f0).detach().clamp_min(1)
    if max_harmonic is not None:
        n = torch.minimum(n, max_harmonic[..., None].to(n.dtype))
    deviation = (frequencies - n * f0).abs()
    return -(deviation * amplitudes).sum(-1) / (amplitudes.sum(-1) + eps)


def estimate_fundamental(
    amplitudes: Tensor, frequencies: Tensor, gate_scale: float = 0.1
) -> Tensor:
    """Soft, differentiable "first active component" (F3); frequencies must be ascending.

    Gate g_k = 1 - exp(-a_k / tau); f0 = sum_k g_k prod_{j<k}(1 - g_j) f_k + prod_k(1 - g_k) f_0,
    i.e. the leftover probability (nothing active) goes to the lowest frequency, so f0 >= f_0.
    """
    if gate_scale <= 0:
        raise ValueError("gate_scale must be positive")
    x = amplitudes / gate_scale
    before = F.pad(torch.cumsum(x, dim=-1)[..., :-1], (1, 0))  # sum_{j<k} a_j / tau
    # exp(-80) ~ 2e-35 stays a normal float32: exp into the subnormal range is ~30x slower on CPU,
    # and the clamp changes f0 by less than 1e-30.
    weights = -torch.expm1(-x) * torch.exp(-before.clamp_max(_EXP_CLAMP))
    none = torch.exp(-x.sum(-1).clamp_max(_EXP_CLAMP))
    return (weights * frequencies).sum(-1) + none * frequencies[..., 0]


def smooth_abs(z: Tensor, eps: float = 1e-3) -> Tensor:
    """hypot(z, eps) - eps: smooth, >= 0, exactly 0 with gradient 0 at z = 0 (F2)."""
    return torch.hypot(z, torch.full_like(z, eps)) - eps


def harmony_scores(
    z: Tensor,
    variant: Variant = "fixed",
    critical_band: CriticalBand | None = None,
    alpha: float = 1.0,
    beta: float = 0.5,
    *,
    amplitude_eps: float = 1e-3,
    gate_scale: float = 0.1,
    eps: float = ORIGINAL_EPS,
) -> HarmonyScores:
    """Alignment, dissonance and H = alpha * alignment - beta * dissonance for each vector of z.

    ``z`` has shape (..., N), floating point; outputs have shape z.shape[:-1]. ``critical_band``
    None means the variant's default (``original`` -> ``original``, ``fixed`` ->
    ``hutchinson-knopoff``).
    ``amplitude_eps`` (F2) and ``gate_scale`` (F3) only affect the fixed variant; ``eps`` guards
    the alignment's denominator in both (the original document's 1e-8). See the module docstring for
    F1-F6.

    Example:
        >>> import torch
        >>> from spectral_cli import harmony_scores
        >>> z = torch.zeros(2, 8)
        >>> z[0, 0] = 1.0                                        # a pure tone
        >>> z[1] = torch.randn(8, generator=torch.Generator().manual_seed(0))  # a dense mixture
        >>> s = harmony_scores(z)
        >>> s.harmony.shape, bool(s.harmony[0] > s.harmony[1])   # dissonance lowers H
        (torch.Size([2]), True)
    """
    name = current_name(variant, "variant")
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
    given = current_name(critical_band, "critical band")
    band = DEFAULT_CRITICAL_BAND[str(name)] if given is None else given
    if band not in CRITICAL_BANDS:
        choices = ", ".join(CRITICAL_BANDS)
        raise ValueError(f"unknown critical band {band!r}; choose one of {choices}")
    if not torch.is_tensor(z) or not z.is_floating_point():
        raise ValueError("z must be a floating-point tensor")
    if z.dim() == 0 or z.shape[-1] == 0:
        raise ValueError(f"z must have shape (..., N) with N >= 1, got {tuple(z.shape)}")
    n = z.shape[-1]
    if name == "original":
        freqs = torch.arange(n, dtype=z.dtype, device=z.device)
        active = z > ORIGINAL_ACTIVE_THRESHOLD
        amps = torch.where(active, z, torch.zeros_like(z))
        count = active.sum(-1)
        first = torch.where(active, freqs, torch.full_like(z, float(n))).amin(-1)
        f0 = torch.where(count > 0, first, torch.zeros_like(first))
        alignment = harmonic_alignment(freqs, amps, f0, count.clamp_min(1), eps)
    else:
        freqs = torch.arange(1, n + 1, dtype=z.dtype, device=z.device)
        amps = smooth_abs(z, amplitude_eps)
        f0 = estimate_fundamental(amps, freqs, gate_scale)
        alignment = harmonic_alignment(freqs, amps, f0, None, eps)
    dissonance = pairwise_dissonance(freqs, amps, cast(CriticalBand, band))
    return HarmonyScores(alignment, dissonance, alpha * alignment - beta * dissonance)


def harmony_loss(
    z_valid: Tensor,
    z_invalid: Tensor | None,
    lambda_h: float,
    lambda_d: float = 0.0,
    **score_kwargs: Any,
) -> Tensor:
    """HAE harmony term: lambda_h * (-mean H(valid) + mean H(invalid))
    + lambda_d * (mean D(valid) - mean D(invalid)); a scalar to *add* to a minimized loss.

    Differs from the original document's code, which adds +lambda_h * H for valid inputs (minimizing
    it pushes valid latents away from harmony); this is the sign its text intends. The original
    document does not define its L_diss; ours pushes valid latents to low and invalid ones to high
    dissonance.
    ``z_invalid=None`` drops the invalid terms. Both invalid terms are unbounded below (D grows
    quadratically with the amplitudes): bound the latents or clip these terms when training.
    ``score_kwargs`` go to :func:`harmony_scores` (variant, critical_band, alpha, beta, ...).
    """
    valid = harmony_scores(z_valid, **score_kwargs)
    loss = -lambda_h * valid.harmony.mean()
    if lambda_d:
        loss = loss + lambda_d * valid.dissonance.mean()
    if z_invalid is not None:
        invalid = harmony_scores(z_invalid, **score_kwargs)
        loss = loss + lambda_h * invalid.harmony.mean()
        if lambda_d:
            loss = loss - lambda_d * invalid.dissonance.mean()
    return loss
