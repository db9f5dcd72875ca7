"""Core harmony measures (spectral_cli/harmony/measures.py) against source document 001, and
the fixed variant.

The block "literal transcription" below is the original document's code copied verbatim (names,
loops, +1e-8, the `z > 1e-6` mask). Nothing in it had to change to run. Two notes on running it:

- Dtype: the original document builds integer frequencies (`torch.arange`) and `torch.tensor(0.0)`;
  torch promotes those to its *default* dtype, float32, so the original document's critical band and
  dissonance sum are float32 even for float64 latents, which caps the dissonance's agreement at
  ~1e-7. It is therefore run under `torch.set_default_dtype(torch.float64)` (see
  `original_default_float64`): same code, float64 arithmetic, and the `original` variant must match
  it to 1e-9 relative. On the original document's grid (0..N-1) its critical band makes every D
  ~1e-14 or less, so the dissonance sum is also checked on frequencies 1000.. where the original
  document's band gives D of order 0.1.
- Division by zero: `harmony_loss` cannot divide by zero (pairs are distinct indices, so
  f1 + f2 >= 1 in the critical band; the alignment has +1e-8), so no guard is needed there. The
  original document's `ratio_harmony` divides by zero at frequency 0 (-> inf); it is left as is
  and compared with our `ratio_harmony(..., eps=0)`, while the default eps keeps it finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from spectral_cli.harmony import dissonance
from spectral_cli.harmony import measures as hm

# ------------------------------------------------- literal transcription (source document 001)


def ratio_harmony(
    f1: torch.Tensor, f2: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor
) -> torch.Tensor:
    ratio = torch.max(f1, f2) / torch.min(f1, f2)
    simple_ratios = torch.tensor([1.0, 1.5, 2.0, 2.5, 3.0], device=f1.device)
    distances = torch.abs(ratio - simple_ratios)
    # Scale effect by product of amplitudes
    return -torch.min(distances) * a1 * a2


def plomp_levelt_dissonance(
    f1: torch.Tensor, f2: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor
) -> torch.Tensor:
    # Constants from Plomp & Levelt's psychoacoustic experiments
    cb = 1.72 * (f1 + f2) / 2 * 0.001  # Critical bandwidth scaling
    s = torch.abs(f2 - f1) / cb  # Normalized frequency difference
    # Dissonance curve with empirically determined decay constants
    d = torch.exp(-3.5 * s) - torch.exp(-5.75 * s)
    return d * a1 * a2


def spectral_harmony(
    spec1: torch.Tensor, spec2: torch.Tensor, amp1: torch.Tensor, amp2: torch.Tensor
) -> torch.Tensor:
    # Weight spectra by their amplitudes
    weighted_spec1 = spec1 * amp1
    weighted_spec2 = spec2 * amp2
    norm1 = torch.norm(weighted_spec1)
    norm2 = torch.norm(weighted_spec2)
    eps = 1e-8  # Prevent division by zero
    correlation = torch.sum(weighted_spec1 * weighted_spec2) / (norm1 * norm2 + eps)
    return correlation


def harmonic_alignment(frequencies: torch.Tensor, amplitudes: torch.Tensor) -> torch.Tensor:
    base_freq = frequencies[0]
    harmonics = torch.arange(1, len(frequencies) + 1, device=frequencies.device) * base_freq
    # Weight deviations by amplitude
    deviations = torch.min(torch.abs(frequencies.unsqueeze(1) - harmonics), dim=1)[0]
    alignment = -torch.sum(deviations * amplitudes) / (torch.sum(amplitudes) + 1e-8)
    return alignment


class HAELoss(nn.Module):
    def __init__(
        self, lambda_h: float = 1.0, lambda_d: float = 0.5, alpha: float = 1.0, beta: float = 0.5
    ):
        super().__init__()
        self.lambda_h = lambda_h
        self.lambda_d = lambda_d
        self.alpha = alpha
        self.beta = beta

    def harmony_loss(self, latent_vector: torch.Tensor) -> torch.Tensor:
        frequencies = torch.arange(len(latent_vector), device=latent_vector.device)
        amplitudes = latent_vector

        # Consider only significant amplitudes
        mask = amplitudes > 1e-6
        active_freqs = frequencies[mask]
        active_amps = amplitudes[mask]

        if len(active_freqs) == 0:
            return torch.tensor(0.0, device=latent_vector.device)

        # Combine harmony measures
        harm_align = self.alpha * harmonic_alignment(active_freqs, active_amps)

        # Compute pairwise dissonance
        n_freqs = len(active_freqs)
        total_dissonance = torch.tensor(0.0, device=latent_vector.device)
        for i in range(n_freqs):
            for j in range(i + 1, n_freqs):
                total_dissonance += self.beta * plomp_levelt_dissonance(
                    active_freqs[i], active_freqs[j], active_amps[i], active_amps[j]
                )

        return harm_align - total_dissonance

    def forward(
        self, x_recon: torch.Tensor, x: torch.Tensor, z: torch.Tensor, is_valid: torch.Tensor
    ) -> torch.Tensor:
        # Reconstruction loss
        recon_loss = F.mse_loss(x_recon, x)

        # Harmony loss (flipped for invalid inputs)
        harm_loss = self.harmony_loss(z)
        harm_loss = torch.where(is_valid, harm_loss, -harm_loss)

        return recon_loss + self.lambda_h * harm_loss


# ------------------------------------------------------------------------ end of transcription


@contextmanager
def original_default_float64() -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def original_literal_scores(z: torch.Tensor, alpha: float = 1.0, beta: float = 0.5) -> torch.Tensor:
    """(alignment, dissonance, harmony) per row of z, from the original document's own loop
    code only."""
    rows = []
    with original_default_float64():
        for v in z:
            align = HAELoss(alpha=1.0, beta=0.0).harmony_loss(v)
            diss = -HAELoss(alpha=0.0, beta=1.0).harmony_loss(v)
            rows.append(torch.stack([align, diss, HAELoss(alpha=alpha, beta=beta).harmony_loss(v)]))
    return torch.stack(rows).to(z.dtype)


def edge_cases(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    e = torch.eye(n)
    cases = [
        torch.zeros(n),
        -torch.rand(n, generator=g) - 0.1,
        e[0],
        e[5] * 3.0,
        e[0] + e[3],
        torch.rand(n, generator=g) + 0.1,
        torch.full((n,), 1e-6),
        torch.full((n,), 1.5e-6),
        e[2] + e[8],
        e[1] * 1e3 + e[n - 1] * 1e3,
    ]
    return torch.stack(cases).double()


def random_vectors(b: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, n, generator=g, dtype=torch.float64)
    sparse = z * (torch.rand(b, n, generator=g, dtype=torch.float64) < 0.25)
    return torch.cat([z, sparse])


@pytest.mark.parametrize(
    "z",
    [edge_cases(12), random_vectors(6, 12), random_vectors(2, 64, 3), edge_cases(64)[[0, 4, 5, 9]]],
    ids=["edge12", "rnd12", "rnd64", "edge64"],
)
def test_original_variant_matches_literal_transcription(z: torch.Tensor) -> None:
    ours = torch.stack(hm.harmony_scores(z, variant="original"), dim=-1)
    torch.testing.assert_close(ours, original_literal_scores(z), rtol=1e-9, atol=0.0)


def test_original_variant_alpha_beta_and_single_element() -> None:
    z = random_vectors(3, 10, 7)
    ours = hm.harmony_scores(z, variant="original", alpha=2.0, beta=3.0).harmony
    torch.testing.assert_close(
        ours, original_literal_scores(z, 2.0, 3.0)[:, 2], rtol=1e-9, atol=0.0
    )
    one = torch.tensor([[1.0], [0.0], [-1.0]], dtype=torch.float64)
    ours = torch.stack(hm.harmony_scores(one, "original"), -1)
    torch.testing.assert_close(ours, original_literal_scores(one), rtol=1e-9, atol=0.0)


def test_original_band_pair_sum_matches_literal_loop_at_high_frequencies() -> None:
    g = torch.Generator().manual_seed(4)
    freqs = 1000 + torch.arange(24, dtype=torch.float64)
    amps = torch.rand(3, 24, generator=g, dtype=torch.float64)
    with original_default_float64():
        loops = torch.stack(
            [
                sum(
                    plomp_levelt_dissonance(freqs[i], freqs[j], a[i], a[j])
                    for i in range(24)
                    for j in range(i + 1, 24)
                )
                for a in amps
            ]
        )
    assert loops.min() > 0.1
    torch.testing.assert_close(
        dissonance.pairwise_dissonance(freqs, amps), loops, rtol=1e-9, atol=0.0
    )


def test_measures_match_original_functions_elementwise() -> None:
    g = torch.Generator().manual_seed(2)
    f = torch.rand(20, 2, generator=g, dtype=torch.float64) * 50 + 0.5
    a = torch.rand(20, 2, generator=g, dtype=torch.float64)
    with original_default_float64():
        pl = torch.stack([plomp_levelt_dissonance(*f[k], *a[k]) for k in range(20)])
        rh = torch.stack([ratio_harmony(*f[k], *a[k]) for k in range(20)])
        rh0 = ratio_harmony(*(torch.tensor(x) for x in (0.0, 3.0, 1.0, 1.0)))
    torch.testing.assert_close(
        dissonance.plomp_levelt_dissonance(f[:, 0], f[:, 1], a[:, 0], a[:, 1]), pl
    )
    torch.testing.assert_close(hm.ratio_harmony(f[:, 0], f[:, 1], a[:, 0], a[:, 1], eps=0.0), rh)
    zero, three, one = (torch.tensor(x, dtype=torch.float64) for x in (0.0, 3.0, 1.0))
    assert rh0 == hm.ratio_harmony(zero, three, one, one, eps=0.0) == -torch.inf
    s = torch.randn(4, 16, generator=g, dtype=torch.float64)
    amp = torch.rand(4, 16, generator=g, dtype=torch.float64)
    expected = torch.stack([spectral_harmony(s[k], s[3 - k], amp[k], amp[3 - k]) for k in range(4)])
    torch.testing.assert_close(hm.spectral_correlation(s, s.flip(0), amp, amp.flip(0)), expected)
    freqs = torch.rand(5, 9, generator=g, dtype=torch.float64) * 30 + 1
    expected = torch.stack([harmonic_alignment(freqs[k], amp[0, :9]) for k in range(5)])
    ours = hm.harmonic_alignment(freqs, amp[0, :9], freqs[:, 0], torch.full((5,), 9.0))
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=0.0)


@pytest.mark.parametrize("band", dissonance.CRITICAL_BANDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fixed_gradients_finite_everywhere(band: str, dtype: torch.dtype) -> None:
    z = (
        torch.cat(
            [
                torch.zeros(1, 16),
                random_vectors(2, 16).float(),
                torch.full((1, 16), 1e-30),
                torch.full((1, 16), 1e3),
                edge_cases(16).float(),
            ]
        )
        .to(dtype)
        .requires_grad_()
    )
    for variant in hm.VARIANTS:
        scores = hm.harmony_scores(z, variant, critical_band=band)  # type: ignore[arg-type]
        assert all(torch.isfinite(t).all() for t in scores)
        (grad,) = torch.autograd.grad(scores.harmony.sum(), z)
        assert torch.isfinite(grad).all(), (variant, band)
    zero = torch.zeros(3, 8, dtype=dtype, requires_grad=True)
    out = hm.harmony_scores(zero)
    assert all((t == 0).all() for t in out)  # F6: an all-zero vector scores exactly 0
    (grad,) = torch.autograd.grad(out.harmony.sum(), zero)
    assert (grad == 0).all()


@pytest.mark.parametrize("variant", hm.VARIANTS)
def test_batched_equals_per_vector(variant: str) -> None:
    z = random_vectors(4, 16, 5).reshape(2, 4, 16)
    batched = torch.stack(hm.harmony_scores(z, variant), -1)  # type: ignore[arg-type]
    single = torch.stack(
        [
            torch.stack(hm.harmony_scores(v, variant), -1)  # type: ignore[arg-type]
            for v in z.reshape(-1, 16)
        ]
    )
    torch.testing.assert_close(batched.reshape(-1, 3), single, rtol=1e-12, atol=1e-12)


def test_dtypes_preserved_and_float32_close_to_float64() -> None:
    z = random_vectors(8, 32, 9)
    for variant in hm.VARIANTS:
        s64 = hm.harmony_scores(z, variant)  # type: ignore[arg-type]
        s32 = hm.harmony_scores(z.float(), variant)  # type: ignore[arg-type]
        assert s64.harmony.dtype == torch.float64 and s32.harmony.dtype == torch.float32
        torch.testing.assert_close(s32.harmony.double(), s64.harmony, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    z = random_vectors(8, 32, 4)
    for variant in hm.VARIANTS:
        cpu = torch.stack(hm.harmony_scores(z, variant), -1)  # type: ignore[arg-type]
        gpu = torch.stack(hm.harmony_scores(z.cuda(), variant), -1)  # type: ignore[arg-type]
        torch.testing.assert_close(gpu.cpu(), cpu)


def test_f1_fundamental_never_zero() -> None:
    z = torch.zeros(1, 8, dtype=torch.float64)
    z[0, 0], z[0, 3] = 1.0, 1.0  # original: index 0 is the fundamental -> every harmonic is 0
    assert hm.harmony_scores(z, "original").alignment.item() == pytest.approx(-1.5)
    assert hm.harmony_scores(z, "fixed").alignment.item() == pytest.approx(0.0, abs=1e-3)
    zs = torch.cat([random_vectors(8, 16), torch.zeros(1, 16, dtype=torch.float64)])
    freqs = torch.arange(1, 17, dtype=torch.float64)
    assert (hm.estimate_fundamental(hm.smooth_abs(zs), freqs) >= 1.0 - 1e-12).all()


def test_f2_smooth_magnitude_counts_negative_latents() -> None:
    z = random_vectors(4, 16, 11)
    torch.testing.assert_close(
        torch.stack(hm.harmony_scores(-z), -1), torch.stack(hm.harmony_scores(z), -1)
    )
    assert (
        hm.harmony_scores(-z.abs() - 0.1, "original").harmony == 0
    ).all()  # the original document drops them
    assert (hm.harmony_scores(-z.abs() - 0.1, "fixed").dissonance > 0).all()
    x = torch.tensor([0.0, 0.5, -2.0], dtype=torch.float64, requires_grad=True)
    a = hm.smooth_abs(x)
    (grad,) = torch.autograd.grad(a.sum(), x)
    assert a[0] == 0 and grad[0] == 0 and (a - x.abs()).abs().max() < 1e-3


def test_f3_soft_first_active_fundamental() -> None:
    freqs = torch.arange(1, 9, dtype=torch.float64)
    a = torch.tensor([0.0, 0.0, 5.0, 0.0, 3.0, 0.0, 4.0, 0.0], dtype=torch.float64)
    assert hm.estimate_fundamental(a, freqs).item() == pytest.approx(3.0, abs=1e-9)
    assert hm.estimate_fundamental(torch.zeros(8, dtype=torch.float64), freqs).item() == 1.0
    soft = torch.tensor([0.0, 0.05, 0.3, 0.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(hm.estimate_fundamental(soft, freqs[:4]), soft)
    assert torch.isfinite(grad).all() and grad[1:3].abs().min() > 0
    with pytest.raises(ValueError):
        hm.estimate_fundamental(a, freqs, gate_scale=0.0)


def test_f4_harmonic_grid_is_unbounded() -> None:
    f, a, f0 = (torch.tensor(x, dtype=torch.float64) for x in ([2.0, 8.0], [1.0, 1.0], 2.0))
    original_grid = hm.harmonic_alignment(
        f, a, f0, max_harmonic=torch.tensor(2.0)
    )  # harmonics 2, 4
    assert (
        original_grid.item() == pytest.approx(-2.0) and hm.harmonic_alignment(f, a, f0).item() == 0
    )
    z = torch.zeros(10, dtype=torch.float64)
    z[1], z[7] = 5.0, 5.0  # fixed: frequencies 2 and 8
    assert hm.harmony_scores(z).alignment.item() == pytest.approx(0.0, abs=1e-6)


def test_f5_critical_bands_and_default() -> None:
    f1, f2 = torch.tensor(3.0, dtype=torch.float64), torch.tensor(5.0, dtype=torch.float64)
    expected_bands = {
        "original": 1.72 * 4 * 0.001,
        "hutchinson-knopoff": 1.72 * 4**0.65,
        "sethares": (0.021 * 3 + 19) / 0.24,
    }
    for band, value in expected_bands.items():
        assert dissonance.critical_bandwidth(f1, f2, band).item() == pytest.approx(value)  # type: ignore[arg-type]
    lo, hi = torch.tensor(440.0, dtype=torch.float64), torch.tensor(470.0, dtype=torch.float64)
    s_star = 0.24 / (0.021 * 440 + 19)  # Sethares' own parametrization
    expected = 0.7 * 0.2 * (math.exp(-3.5 * s_star * 30) - math.exp(-5.75 * s_star * 30))
    sethares = dissonance.plomp_levelt_dissonance(lo, hi, 0.7, 0.2, "sethares")
    assert sethares.item() == pytest.approx(expected)
    z = torch.zeros(1, 8, dtype=torch.float64)
    z[0, 3], z[0, 4] = 1.0, 1.0  # neighbouring frequencies 4 and 5
    assert hm.harmony_scores(z).dissonance.item() > 0.1  # Hutchinson-Knopoff by default
    assert hm.harmony_scores(z, critical_band="original").dissonance.item() < 1e-10
    with pytest.raises(ValueError):
        dissonance.critical_bandwidth(f1, f2, "bark")  # type: ignore[arg-type]


def test_f6_no_division_by_zero() -> None:
    zero, three, one = (torch.tensor(x, dtype=torch.float64) for x in (0.0, 3.0, 1.0))
    assert torch.isfinite(hm.ratio_harmony(zero, three, one, one))
    assert dissonance.plomp_levelt_dissonance(zero, zero, one, one).item() == 0.0
    w = torch.zeros(2, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(hm.spectral_correlation(w, w + 1).sum(), w)
    assert torch.isfinite(grad).all()


def test_pair_sum_is_upper_triangle_and_subtracted() -> None:
    z = random_vectors(1, 12, 13)[:1]
    for band in dissonance.CRITICAL_BANDS:
        s = hm.harmony_scores(z, critical_band=band, alpha=1.5, beta=0.7)  # type: ignore[arg-type]
        f, a = torch.arange(1, 13, dtype=torch.float64), hm.smooth_abs(z[0])
        pairs = sum(
            dissonance.plomp_levelt_dissonance(f[i], f[j], a[i], a[j], band)  # type: ignore[arg-type]
            for i in range(12)
            for j in range(i + 1, 12)
        )
        torch.testing.assert_close(s.dissonance[0], pairs)
        torch.testing.assert_close(s.harmony, 1.5 * s.alignment - 0.7 * s.dissonance)
    f = torch.rand(5, 3, 12, dtype=torch.float64) * 20 + 1
    amps = torch.rand(3, 12, dtype=torch.float64)
    chunked = dissonance.pairwise_dissonance(f, amps, "hutchinson-knopoff", chunk_elements=300)
    each = torch.stack(
        [
            dissonance.pairwise_dissonance(f[i, j], amps[j], "hutchinson-knopoff")
            for i in range(5)
            for j in range(3)
        ]
    ).reshape(5, 3)
    torch.testing.assert_close(chunked, each)


def test_loss_sign_gradient_step_increases_valid_harmony() -> None:
    z_valid = random_vectors(8, 16, 21).requires_grad_()
    z_invalid = random_vectors(8, 16, 22).requires_grad_()
    before_v = hm.harmony_scores(z_valid).harmony.mean().item()
    before_i = hm.harmony_scores(z_invalid).harmony.mean().item()
    hm.harmony_loss(z_valid, z_invalid, lambda_h=1.0).backward()
    with torch.no_grad():
        assert hm.harmony_scores(z_valid - 1e-3 * z_valid.grad).harmony.mean() > before_v
        assert hm.harmony_scores(z_invalid - 1e-3 * z_invalid.grad).harmony.mean() < before_i
    z = random_vectors(8, 16, 23).requires_grad_()
    d_before = hm.harmony_scores(z).dissonance.mean().item()
    (grad,) = torch.autograd.grad(hm.harmony_loss(z, None, lambda_h=0.0, lambda_d=1.0), z)
    assert hm.harmony_scores(z.detach() - 1e-3 * grad).dissonance.mean() < d_before
    # The original document's HAELoss has the opposite sign: a descent step on a valid input lowers
    # its harmony.
    v = torch.zeros(8, dtype=torch.float64)
    v[2], v[5] = 1.0, 0.5  # fundamental 2, harmonics {2, 4}: frequency 5 is off by 1
    v.requires_grad_()
    with original_default_float64():
        original_loss = HAELoss()(torch.zeros(3), torch.zeros(3), v, torch.tensor(True))
        (grad,) = torch.autograd.grad(original_loss, v)
        assert HAELoss().harmony_loss(v.detach() - 1e-2 * grad) < HAELoss().harmony_loss(v.detach())
    stepped = hm.harmony_scores(v.detach() - 1e-2 * grad, "original").harmony
    assert stepped < hm.harmony_scores(v.detach(), "original").harmony


def test_invalid_arguments_raise() -> None:
    z = torch.zeros(2, 4)
    for kwargs in ({"variant": "bogus"}, {"critical_band": "bark"}):
        with pytest.raises(ValueError):
            hm.harmony_scores(z, **kwargs)  # type: ignore[arg-type]
    for bad in (torch.zeros(2, 4, dtype=torch.int64), torch.tensor(1.0), torch.zeros(3, 0)):
        with pytest.raises(ValueError):
            hm.harmony_scores(bad)
