"""Differentiable harmony and dissonance measures for latent vectors.

A latent vector ``z`` of length N is read as a spectrum: index k is a frequency, ``z[..., k]`` its
amplitude. Every function is batched over leading dimensions, differentiable, and keeps the dtype
and device of its inputs. The combined score is H = alpha * alignment - beta * sum_{i<j} D_ij.

:func:`harmony_scores` has two variants.

``variant="seed"`` reproduces the seed's ``HAELoss.harmony_loss`` exactly, vectorized: frequencies
0..N-1, hard mask ``z > 1e-6``, the first active index as fundamental, harmonics 1..|F|, the seed's
critical band, all-inactive vector -> 0. It computes in ``z``'s dtype (the seed's code promotes its
integer frequencies to torch's default dtype, float32, for the critical band and accumulates the
dissonance in float32; the test transcription runs it with float64 as default dtype).

``variant="fixed"`` (default) differs from the seed on purpose; each line is pinned by a test in
``tests/harmony/test_harmony_core.py``:

- F1 frequencies are index + 1 (1..N), so the fundamental can never be 0 (the seed: an active
  index 0 makes every harmonic 0).
- F2 amplitudes are a smooth |z|, ``hypot(z, eps_a) - eps_a`` (eps_a = 1e-3): negative latents
  count (their sign is a phase), it is exactly 0 at z = 0 with gradient 0 there, and it is smooth
  everywhere (the seed's hard mask drops negatives and passes no gradient through the selection).
- F3 the fundamental is a soft "first active component": component k is active with probability
  g_k = 1 - exp(-a_k / tau) (tau = ``gate_scale`` = 0.1), f0 = sum_k g_k prod_{j<k}(1 - g_j) f_k,
  with the leftover probability on the lowest frequency; f0 >= 1 and is differentiable in z.
  As in the seed, a strong lowest component (f0 ~ 1) makes every grid frequency a harmonic, so
  the alignment is then ~0, its maximum; the dissonance term is what separates such vectors.
- F4 the harmonic grid is unbounded (n = 1, 2, ...); the seed's stops at |F| * f0.
- F5 the default critical band is Hutchinson-Knopoff, 1.72 * mean(f)^0.65 (the seed's
  1.72 * mean(f) * 0.001 makes every pair's dissonance ~0 unless frequencies are in the thousands).
- F6 no division by zero anywhere; gradients are finite everywhere, including at z = 0.

Deliberate differences from the seed's *text* (we follow its code): the dissonance is summed over
pairs i < j and subtracted (the text writes ``+ beta * sum_i sum_j``). :func:`harmony_loss` uses the
sign the text intends (the seed's ``HAELoss`` adds ``+lambda * harmony`` to a minimized loss, which
pushes valid inputs away from harmony). :func:`ratio_harmony` clamps the lower frequency at ``eps``
(the seed divides by zero at frequency 0; ``eps=0`` reproduces it).

Memory: with a shared frequency grid (as in :func:`harmony_scores`) the pairwise dissonance is the
bilinear form a^T K a with an N x N upper-triangular kernel K: O(N^2 + B*N) memory. Per-sample
frequencies need a B x N x N kernel; :func:`pairwise_dissonance` then works in batch chunks of at
most ``chunk_elements`` kernel entries.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

Variant = Literal["seed", "fixed"]
CriticalBand = Literal["seed", "hutchinson-knopoff", "sethares"]
VARIANTS: tuple[str, ...] = ("seed", "fixed")
CRITICAL_BANDS: tuple[str, ...] = ("seed", "hutchinson-knopoff", "sethares")
DEFAULT_CRITICAL_BAND: dict[str, str] = {"seed": "seed", "fixed": "hutchinson-knopoff"}
SIMPLE_RATIOS: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0)
PL_B1, PL_B2 = 3.5, 5.75  # Plomp-Levelt / Sethares decay constants
SEED_ACTIVE_THRESHOLD = 1e-6
SEED_EPS = 1e-8
_EXP_CLAMP = 80.0


class HarmonyScores(NamedTuple):
    """Per-vector scores, each of shape ``z.shape[:-1]``.

    ``alignment`` is the raw harmonic alignment (alpha not applied), ``dissonance`` the raw
    sum_{i<j} D_ij (beta not applied), ``harmony`` = alpha * alignment - beta * dissonance.
    """

    alignment: Tensor
    dissonance: Tensor
    harmony: Tensor


def critical_bandwidth(f1: Tensor, f2: Tensor, kind: CriticalBand = "seed") -> Tensor:
    """Critical bandwidth of a frequency pair; D uses s = |f2 - f1| / bandwidth.

    - ``seed``: 1.72 * (f1 + f2) / 2 * 0.001 (the seed's formula).
    - ``hutchinson-knopoff``: 1.72 * ((f1 + f2) / 2) ** 0.65 (mean clamped at the dtype's tiny,
      so the gradient stays finite at 0).
    - ``sethares``: (0.021 * min(f1, f2) + 19) / 0.24, the reciprocal of Sethares' scale
      s* = 0.24 / (0.021 * f_min + 19), so s = s* * |f2 - f1| as in his b1 = 3.5, b2 = 5.75 model.
    """
    if kind == "seed":
        return 1.72 * (f1 + f2) / 2 * 0.001
    if kind == "hutchinson-knopoff":
        mean = (f1 + f2) / 2
        return 1.72 * mean.clamp_min(torch.finfo(mean.dtype).tiny) ** 0.65
    if kind == "sethares":
        return (0.021 * torch.minimum(f1, f2) + 19) / 0.24
    raise ValueError(f"unknown critical band {kind!r}; choose one of {', '.join(CRITICAL_BANDS)}")


def plomp_levelt_dissonance(
    f1: Tensor,
    f2: Tensor,
    a1: Tensor | float,
    a2: Tensor | float,
    critical_band: CriticalBand = "seed",
) -> Tensor:
    """D = a1 * a2 * (exp(-3.5 s) - exp(-5.75 s)), s = |f2 - f1| / critical bandwidth.

    Elementwise with broadcasting. The bandwidth is clamped at the dtype's tiny, so equal
    frequencies at 0 give s = 0 (D = 0) instead of 0 / 0; otherwise identical to the seed.
    """
    cb = critical_bandwidth(f1, f2, critical_band)
    s = (f2 - f1).abs() / cb.clamp_min(torch.finfo(cb.dtype).tiny)
    d = torch.exp(-PL_B1 * s) - torch.exp(-PL_B2 * s)
    return d * a1 * a2


def dissonance_kernel(frequencies: Tensor, critical_band: CriticalBand = "seed") -> Tensor:
    """K[..., i, j] = D(f_i, f_j, 1, 1) for i < j and 0 otherwise; shape (..., N, N)."""
    f_i, f_j = frequencies[..., :, None], frequencies[..., None, :]
    n = frequencies.shape[-1]
    upper = torch.ones(n, n, dtype=torch.bool, device=frequencies.device).triu(diagonal=1)
    return plomp_levelt_dissonance(f_i, f_j, 1.0, 1.0, critical_band) * upper


def pairwise_dissonance(
    frequencies: Tensor,
    amplitudes: Tensor,
    critical_band: CriticalBand = "seed",
    chunk_elements: int = 1 << 24,
) -> Tensor:
    """sum_{i<j} D(f_i, f_j, a_i, a_j) over the last dimension, batched over leading ones.

    A 1-D ``frequencies`` (a grid shared by the batch) costs one N x N kernel and a matmul.
    Batched ``frequencies`` build a per-vector kernel, in batch chunks of at most
    ``chunk_elements`` kernel entries (a loop over chunks, not over vectors).
    """
    if frequencies.dim() == 1:
        kernel = dissonance_kernel(frequencies, critical_band)
        return ((amplitudes @ kernel) * amplitudes).sum(-1)
    n = frequencies.shape[-1]
    lead = torch.broadcast_shapes(frequencies.shape[:-1], amplitudes.shape[:-1])
    f = frequencies.expand(*lead, n).reshape(-1, n)
    a = amplitudes.expand(*lead, n).reshape(-1, n)
    step = max(1, chunk_elements // max(1, n * n))
    parts = [
        torch.einsum(
            "bi,bij,bj->b",
            a[k : k + step],
            dissonance_kernel(f[k : k + step], critical_band),
            a[k : k + step],
        )
        for k in range(0, f.shape[0], step)
    ]
    out = torch.cat(parts) if parts else a.new_zeros(0)
    return out.reshape(lead)


def ratio_harmony(
    f1: Tensor, f2: Tensor, a1: Tensor | float, a2: Tensor | float, eps: float = 1e-6
) -> Tensor:
    """-min_r |max(f1, f2) / min(f1, f2) - r| * a1 * a2, r in {1, 1.5, 2, 2.5, 3}; elementwise.

    Differs from the seed: the lower frequency is clamped at ``eps`` (no division by zero at
    frequency 0; the value there is large and negative but finite). ``eps=0`` is the seed.
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
    eps: float = SEED_EPS,
) -> Tensor:
    """<w1, w2> / (|w1| |w2| + eps) over the last dimension, w = spec * amp (the seed's formula).

    Batched: one correlation per leading index (the seed's code reduces over the whole tensor).
    The gradient at a zero spectrum is finite (vector_norm's subgradient at 0 is 0).
    """
    w1, w2 = spec1 * amp1, spec2 * amp2
    norms = torch.linalg.vector_norm(w1, dim=-1) * torch.linalg.vector_norm(w2, dim=-1)
    return (w1 * w2).sum(-1) / (norms + eps)


def harmonic_alignment(
    frequencies: Tensor,
    amplitudes: Tensor,
    fundamental: Tensor,
    max_harmonic: Tensor | None = None,
    eps: float = SEED_EPS,
) -> Tensor:
    """-sum_k a_k min_n |f_k - n f0| / (sum_k a_k + eps) over the last dimension.

    ``fundamental`` has the leading shape; n runs over 1..``max_harmonic`` (per vector; the seed
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
    eps: float = SEED_EPS,
) -> HarmonyScores:
    """Alignment, dissonance and H = alpha * alignment - beta * dissonance for each vector of z.

    ``z`` has shape (..., N), floating point; outputs have shape z.shape[:-1]. ``critical_band``
    None means the variant's default (``seed`` -> ``seed``, ``fixed`` -> ``hutchinson-knopoff``).
    ``amplitude_eps`` (F2) and ``gate_scale`` (F3) only affect the fixed variant; ``eps`` guards
    the alignment's denominator in both (the seed's 1e-8). See the module docstring for F1-F6.

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
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    band = DEFAULT_CRITICAL_BAND[variant] if critical_band is None else critical_band
    if band not in CRITICAL_BANDS:
        choices = ", ".join(CRITICAL_BANDS)
        raise ValueError(f"unknown critical band {band!r}; choose one of {choices}")
    if not torch.is_tensor(z) or not z.is_floating_point():
        raise ValueError("z must be a floating-point tensor")
    if z.dim() == 0 or z.shape[-1] == 0:
        raise ValueError(f"z must have shape (..., N) with N >= 1, got {tuple(z.shape)}")
    n = z.shape[-1]
    if variant == "seed":
        freqs = torch.arange(n, dtype=z.dtype, device=z.device)
        active = z > SEED_ACTIVE_THRESHOLD
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
    dissonance = pairwise_dissonance(freqs, amps, band)
    return HarmonyScores(alignment, dissonance, alpha * alignment - beta * dissonance)


def harmony_loss(
    z_valid: Tensor,
    z_invalid: Tensor | None,
    lambda_h: float,
    lambda_d: float = 0.0,
    **score_kwargs: object,
) -> Tensor:
    """HAE harmony term: lambda_h * (-mean H(valid) + mean H(invalid))
    + lambda_d * (mean D(valid) - mean D(invalid)); a scalar to *add* to a minimized loss.

    Differs from the seed's code, which adds +lambda_h * H for valid inputs (minimizing it pushes
    valid latents away from harmony); this is the sign its text intends. The seed does not define
    its L_diss; ours pushes valid latents to low and invalid ones to high dissonance.
    ``z_invalid=None`` drops the invalid terms. Both invalid terms are unbounded below (D grows
    quadratically with the amplitudes): bound the latents or clip these terms when training.
    ``score_kwargs`` go to :func:`harmony_scores` (variant, critical_band, alpha, beta, ...).
    """
    valid = harmony_scores(z_valid, **score_kwargs)  # type: ignore[arg-type]
    loss = -lambda_h * valid.harmony.mean()
    if lambda_d:
        loss = loss + lambda_d * valid.dissonance.mean()
    if z_invalid is not None:
        invalid = harmony_scores(z_invalid, **score_kwargs)  # type: ignore[arg-type]
        loss = loss + lambda_h * invalid.harmony.mean()
        if lambda_d:
            loss = loss - lambda_d * invalid.dissonance.mean()
    return loss
