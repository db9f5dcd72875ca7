"""HarmonicEmbedding against the seed's formula, its strategies, init and drop-in behaviour."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spectral_cli.embeddings.hpe import HarmonicEmbedding


def direct_loop(emb: HarmonicEmbedding, tokens: torch.Tensor) -> torch.Tensor:
    """E[i, j] = sum_k a[i,k] sin(w[i,k] j / D + phi[i,k]), written out with Python loops."""
    d = emb.embedding_dim
    out = torch.zeros(*tokens.shape, d, dtype=torch.float64)
    flat_tokens, flat_out = tokens.reshape(-1), out.view(-1, d)
    a, w, p = (t.detach().double() for t in (emb.amplitudes, emb.frequencies, emb.phases))
    for n, i in enumerate(flat_tokens.tolist()):
        for j in range(d):
            flat_out[n, j] = sum(
                a[i, k] * math.sin(w[i, k] * j / d + p[i, k]) for k in range(emb.k)
            )
    return out


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize("strategy", ["table", "rows", "auto"])
def test_formula_matches_direct_loop(strategy: str, impl: str) -> None:
    torch.manual_seed(0)
    emb = HarmonicEmbedding(17, 12, 5, strategy=strategy, impl=impl).double()
    tokens = torch.randint(0, 17, (3, 7))
    got = emb(tokens)
    assert got.shape == (3, 7, 12)
    # float64 sums of 5 terms of magnitude ~1: agreement to ~1e-15; 1e-12 leaves margin
    torch.testing.assert_close(got, direct_loop(emb, tokens), rtol=0, atol=1e-12)


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_strategies_agree_in_value_and_gradient(impl: str) -> None:
    torch.manual_seed(1)
    tokens = torch.randint(0, 50, (4, 9))
    grads = {}
    outs = {}
    for strategy in ("table", "rows"):
        torch.manual_seed(2)
        emb = HarmonicEmbedding(50, 16, 4, strategy=strategy, impl=impl).double()
        out = emb(tokens)
        (out * torch.linspace(-1, 1, 16, dtype=torch.float64)).sum().backward()
        outs[strategy] = out.detach()
        grads[strategy] = [p.grad.clone() for p in (emb.amplitudes, emb.frequencies, emb.phases)]
    torch.testing.assert_close(outs["table"], outs["rows"], rtol=0, atol=1e-12)
    for g_table, g_rows in zip(grads["table"], grads["rows"], strict=True):
        torch.testing.assert_close(g_table, g_rows, rtol=0, atol=1e-12)
        assert g_table.abs().sum() > 0


def test_hand_written_backward_matches_autograd_and_finite_differences() -> None:
    from spectral_cli.embeddings.hpe import synthesize

    torch.manual_seed(3)
    a, w, p = (torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    positions = torch.arange(6, dtype=torch.float64) / 6
    assert torch.autograd.gradcheck(lambda *t: synthesize(*t, positions), (a, w, p))

    def plain(a, w, p):
        return (a.unsqueeze(-1) * torch.sin(w.unsqueeze(-1) * positions + p.unsqueeze(-1))).sum(-2)

    g = torch.randn(2, 3, 6, dtype=torch.float64)
    ours = torch.autograd.grad(synthesize(a, w, p, positions), (a, w, p), g)
    ref = torch.autograd.grad(plain(a, w, p), (a, w, p), g)
    for x, y in zip(ours, ref, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-12)  # float64, sums of 6 terms


def test_auto_strategy_switches_on_batch_size() -> None:
    emb = HarmonicEmbedding(256, 64, 13)
    assert emb.resolve_strategy(256 * 40) == "table"
    assert emb.resolve_strategy(100) == "rows"
    big = HarmonicEmbedding(50_000, 8, 2)
    assert big.resolve_strategy(8192) == "rows"


def test_drop_in_for_nn_embedding_shapes_and_errors() -> None:
    emb = HarmonicEmbedding(10, 6, 3)
    ref = nn.Embedding(10, 6)
    for shape in [(), (5,), (2, 3), (2, 3, 4)]:
        tokens = torch.randint(0, 10, shape)
        assert emb(tokens).shape == ref(tokens).shape
    with pytest.raises(TypeError):
        emb(torch.zeros(3))
    with pytest.raises(IndexError):
        emb(torch.tensor([10]))


def test_initialization_has_the_documented_distributions() -> None:
    """a ~ N(0, 1/K), w ~ N(0, pi^2), phi ~ U(0, 2 pi) by default (our choice: the seed document
    states no initialization), and each is configurable."""
    torch.manual_seed(0)
    k = 16
    emb = HarmonicEmbedding(4096, 8, k)
    # 65,536 draws each: sample std within ~1 % of the target (standard error 0.3 %)
    assert emb.amplitudes.std().item() == pytest.approx(1 / math.sqrt(k), rel=0.02)
    assert emb.frequencies.std().item() == pytest.approx(math.pi, rel=0.02)
    assert emb.phases.min() >= 0 and emb.phases.max() <= 2 * math.pi
    assert emb.phases.mean().item() == pytest.approx(math.pi, rel=0.02)
    custom = HarmonicEmbedding(4096, 8, k, amp_std=0.5, freq_std=1.0, phase_max=1.0)
    assert custom.amplitudes.std().item() == pytest.approx(0.5, rel=0.02)
    assert custom.frequencies.std().item() == pytest.approx(1.0, rel=0.02)
    assert custom.phases.max() <= 1.0


def test_parameter_count_is_three_k_per_token() -> None:
    emb = HarmonicEmbedding(256, 64, 13)
    assert sum(p.numel() for p in emb.parameters()) == 3 * 256 * 13
    assert emb.weight.shape == (256, 64)
    with pytest.raises(ValueError):
        HarmonicEmbedding(256, 64, 0)
