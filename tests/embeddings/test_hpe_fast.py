"""The fast HPE path (angle addition, analytic backward) against the reference path."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F

from spectral_cli.core.registry import get_family
from spectral_cli.core.resolve import resolve_train_config
from spectral_cli.embeddings import hpe_fast
from spectral_cli.embeddings.hpe import HarmonicEmbedding
from spectral_cli.embeddings.hpe_fast import FastSynthesis, split_dim
from spectral_cli.embeddings.tokens import TokenDataInfo

SEED_INFO = TokenDataInfo(vocab_size=256, seq_len=40, num_classes=10)


def pair(
    v: int, d: int, k: int, dtype: torch.dtype = torch.float64, **kw: object
) -> tuple[HarmonicEmbedding, HarmonicEmbedding]:
    """A reference and a fast module with the same parameters."""
    torch.manual_seed(0)
    ref = HarmonicEmbedding(v, d, k, impl="reference", **kw).to(dtype)  # type: ignore[arg-type]
    fast = HarmonicEmbedding(v, d, k, impl="fast", **kw).to(dtype)  # type: ignore[arg-type]
    fast.load_state_dict(ref.state_dict())
    return ref, fast


def value_and_grads(
    emb: HarmonicEmbedding, tokens: torch.Tensor, g: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    emb.zero_grad(set_to_none=True)
    out = emb(tokens)
    out.backward(g)
    grads = [p.grad for p in (emb.amplitudes, emb.frequencies, emb.phases)]
    assert all(x is not None for x in grads)
    return out.detach(), grads  # type: ignore[return-value]


def test_split_covers_the_dimension_with_few_sines() -> None:
    assert split_dim(64) == (8, 8)
    assert split_dim(512) == (32, 16)
    for d in range(1, 1100):  # within 1.6x of the minimum 2 sqrt(D) sines per oscillator
        m, r = split_dim(d)
        assert r * m >= d and m + r <= 1.6 * 2 * d**0.5


@pytest.mark.parametrize("d", [1, 7, 12, 13, 64])  # 7, 13: R*M > D, the padded layout
@pytest.mark.parametrize("rows", [False, True])  # the batch's distinct rows, or the whole table
@pytest.mark.parametrize("gather", [False, True])  # gathered per token, or the rows themselves
def test_gradcheck_in_float64(d: int, rows: bool, gather: bool) -> None:
    torch.manual_seed(3)
    a, w, p = (torch.randn(9, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    tokens = torch.randint(0, 9, (2, 5))
    unique, inverse = torch.unique(tokens, return_inverse=True)
    args = (unique if rows else None, (inverse if rows else tokens) if gather else None, d)
    assert torch.autograd.gradcheck(lambda *t: FastSynthesis.apply(*t, *args), (a, w, p))


@pytest.mark.parametrize(
    ("v", "d", "k", "strategy", "n"),
    [
        (256, 64, 13, "table", 320),  # the seed's sizes: one small block (one sin, one cos call)
        (256, 64, 13, "rows", 320),
        (400, 64, 13, "table", 320),  # one block above the small-block size (sines in place)
        (2000, 512, 16, "rows", 320),
        (3000, 512, 4, "rows", 2000),  # ~1,460 distinct rows: three row blocks of 512
        (40, 100, 3, "table", 320),
    ],
)
def test_fast_equals_reference_in_float64(v: int, d: int, k: int, strategy: str, n: int) -> None:
    """Same values (1e-12) and gradients (1e-10) as the reference formula; measured ~1e-14."""
    ref, fast = pair(v, d, k, strategy=strategy)
    tokens = torch.randint(0, v, (n // 40, 40))
    g = torch.randn(*tokens.shape, d, dtype=torch.float64)
    out_r, grads_r = value_and_grads(ref, tokens, g)
    out_f, grads_f = value_and_grads(fast, tokens, g)
    torch.testing.assert_close(out_f, out_r, rtol=0, atol=1e-12)
    for x, y in zip(grads_f, grads_r, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("v", "d", "k"), [(256, 64, 13), (2000, 512, 16)])
def test_float32_differs_from_reference_by_a_few_ulps_of_the_angles(v: int, d: int, k: int) -> None:
    """Both paths round the angle w j/D + phi (absolute error ~eps (|w| + |phi|)) and then add
    a few ulps in the sines and the sum, each term scaled by |a|; so per row
    |fast - reference| <= eps * sum_k |a_k| (1 + |w_k| + |phi_k|). Measured: 9.5e-7 at the seed
    scale and 1.4e-6 at D=512, K=16, about 0.2-0.3 of that bound. The gradients of both
    float32 paths are within 2x of each other's distance to float64 (the fast path is usually
    the closer: its reductions are shorter)."""
    ref, fast = pair(v, d, k, dtype=torch.float32)
    tokens = torch.randint(0, v, (3000,))
    g = torch.randn(3000, d)
    out_r, grads_r = value_and_grads(ref, tokens, g)
    out_f, grads_f = value_and_grads(fast, tokens, g)
    a, w, phi = (t.detach() for t in (ref.amplitudes, ref.frequencies, ref.phases))
    per_row = (a.abs() * (1 + w.abs() + phi.abs())).sum(1)[tokens]
    eps = torch.finfo(torch.float32).eps
    assert ((out_f - out_r).abs().amax(1) <= eps * per_row).all()
    exact = ref.double()
    _, grads_64 = value_and_grads(exact, tokens, g.double())
    for x, y, z in zip(grads_f, grads_r, grads_64, strict=True):
        err_fast, err_ref = (x.double() - z).abs().max(), (y.double() - z).abs().max()
        assert err_fast <= 2 * err_ref + 1e-6


def test_memory_is_proportional_to_the_batch_not_the_vocabulary() -> None:
    """Saved for backward: O(unique tokens x (D + K sqrt(D))), nothing of size V x D."""
    v, d, k = 200_000, 64, 4
    emb = HarmonicEmbedding(v, d, k)
    tokens = torch.randint(0, v, (3, 50))
    u = torch.unique(tokens).numel()
    saved: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = emb(tokens)
    m, r = split_dim(d)
    assert out.shape == (3, 50, d)
    assert 0 < sum(saved) <= 4 * u * (k + 3 * r * k + 2 * k * m) + 8 * (u + tokens.numel())
    assert sum(saved) < v * d * 4 / 100
    out.sum().backward()
    assert emb.amplitudes.grad is not None and emb.amplitudes.grad.shape == (v, k)


def test_checkpoints_and_the_weight_property_are_shared_with_the_reference() -> None:
    ref, fast = pair(30, 16, 3)
    assert (
        list(fast.state_dict()) == list(ref.state_dict()) == ["amplitudes", "frequencies", "phases"]
    )
    torch.testing.assert_close(fast.weight, ref.weight, rtol=0, atol=1e-12)
    fast.weight.square().sum().backward()
    ref.weight.square().sum().backward()
    for x, y in zip(fast.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(x.grad, y.grad, rtol=0, atol=1e-10)
    assert "impl=fast" in repr(fast) and "impl=reference" in repr(ref)
    with pytest.raises(ValueError, match="impl"):
        HarmonicEmbedding(4, 4, 1, impl="slow")  # type: ignore[arg-type]


def test_train_config_defaults_to_fast_and_switches_to_reference() -> None:
    family = get_family("hpe")
    default = family.build(resolve_train_config("hpe", None, []), SEED_INFO)
    assert (default.embedding.impl, default.embedding.compiled) == ("fast", False)
    cfg = resolve_train_config("hpe", None, ["model.impl=reference"])
    assert family.build(cfg, SEED_INFO).embedding.impl == "reference"


def test_training_steps_are_the_same_with_either_path() -> None:
    """The seed's model, a few Adam steps in float64: the two paths give the same losses."""
    x = torch.randint(0, 256, (32, 40), generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(2))
    losses = {}
    for impl in ("reference", "fast"):
        cfg = resolve_train_config("hpe", None, [f"model.impl={impl}"])
        torch.manual_seed(0)
        model = get_family("hpe").build(cfg, SEED_INFO).double()
        opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
        torch.manual_seed(3)  # the same dropout masks for both
        trace = []
        for _ in range(4):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            trace.append(loss.item())
        losses[impl] = trace
    assert losses["fast"] == pytest.approx(losses["reference"], rel=1e-9, abs=0)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("c++") is None and shutil.which("g++") is None,
    reason="torch.compile needs a C++ compiler on CPU",
)
def test_compiled_path_matches_eager() -> None:
    """``compiled=True`` (torch.compile of the forward and backward bodies) agrees with the eager
    path to float32 rounding (the compiler may fuse multiply-adds) and really runs compiled (no
    fallback to eager); compiling takes tens of seconds."""
    torch.manual_seed(0)
    eager = HarmonicEmbedding(300, 64, 5)
    comp = HarmonicEmbedding(300, 64, 5, compiled=True)
    comp.load_state_dict(eager.state_dict())
    for tokens in (torch.randint(0, 300, (20, 40)), torch.randint(0, 300, (9,))):
        g = torch.randn(*tokens.shape, 64)
        out_e, grads_e = value_and_grads(eager, tokens, g)
        out_c, grads_c = value_and_grads(comp, tokens, g)
        torch.testing.assert_close(out_c, out_e, rtol=0, atol=1e-5)
        for x, y in zip(grads_c, grads_e, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)
    assert hpe_fast._compiled is not None
    assert hpe_fast._compiled[0] is not hpe_fast.forward_body  # compiled, not the fallback
