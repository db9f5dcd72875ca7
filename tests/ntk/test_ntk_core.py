"""Core NTK numerics: empirical kernels, analytic ReLU NTK, encodings, kernel algebra, dynamics."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

from spectral_cli.ntk.encodings import ENCODINGS, make_encoding
from spectral_cli.ntk.kernels import (
    NearSingularKernelWarning,
    analytic_relu_kernels,
    analytic_relu_ntk,
    empirical_ntk,
    gd_dynamics,
    kernel_eigh,
    kernel_solve,
    ntk_autograd_loop,
    ntk_jacrev,
    ntk_regression,
    ntk_structured,
    residual_in_eigenbasis,
)
from spectral_cli.ntk.mlp import NTKMLP

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # tiny matmuls on a shared 2-core box are far faster single-threaded
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def mlp(
    d: int,
    width: int,
    depth: int,
    par: str = "ntk",
    w: float = 1.3,
    b: float = 0.4,
    seed: int = 0,
    dtype: torch.dtype = F64,
) -> NTKMLP:
    gen = torch.Generator().manual_seed(seed)
    return NTKMLP(d, width, depth, par, w, b, generator=gen, dtype=dtype)  # type: ignore[arg-type]


def brute_force_ntk(model: nn.Module, x1: Tensor, x2: Tensor) -> Tensor:
    """Independent reference: per-sample, per-output autograd gradients, summed dot products."""
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(x: Tensor) -> list[Tensor]:
        rows = []
        for i in range(x.shape[0]):
            out = model(x[i : i + 1]).reshape(-1)
            per_out = []
            for o in range(out.numel()):
                g = torch.autograd.grad(out[o], params, retain_graph=True, allow_unused=True)
                per_out.append(
                    torch.cat(
                        [
                            (gi if gi is not None else torch.zeros_like(p)).flatten()
                            for gi, p in zip(g, params, strict=True)
                        ]
                    )
                )
            rows.append(torch.stack(per_out))
        return rows

    g1, g2 = grads(x1), grads(x2)
    return torch.tensor([[float((a * b).sum()) for b in g2] for a in g1], dtype=F64)


# ---------------------------------------------------------------- empirical kernels


@pytest.mark.parametrize("par", ["ntk", "standard"])
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_structured_and_jacrev_match_brute_force(par: str, depth: int) -> None:
    model = mlp(3, 6, depth, par)
    x1 = torch.randn(5, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    x2 = torch.randn(4, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    for a, b in [(x1, x2), (x1, x1)]:
        ref = brute_force_ntk(model, a, b)
        scale = ref.abs().max()
        assert float(scale) > 0
        sym = a is b
        for K in (
            ntk_structured(model, a, None if sym else b),
            ntk_jacrev(model, a, None if sym else b),
            ntk_autograd_loop(model, a, None if sym else b),
        ):
            assert K.dtype == F64 and K.shape == ref.shape
            assert float((K - ref).abs().max() / scale) < 1e-10


def test_frozen_parameters_are_not_theta_in_every_path() -> None:
    model = mlp(3, 6, 3)
    model.layers[1].bias.requires_grad_(False)
    model.layers[0].weight.requires_grad_(False)
    x = torch.randn(5, 3, dtype=F64, generator=torch.Generator().manual_seed(6))
    ref = brute_force_ntk(model, x, x)
    for K in (ntk_structured(model, x), ntk_jacrev(model, x), ntk_autograd_loop(model, x)):
        assert float((K - ref).abs().max() / ref.abs().max()) < 1e-10


def test_blocked_kernels_equal_unblocked() -> None:
    model = mlp(2, 5, 3)
    x = torch.randn(11, 2, dtype=F64, generator=torch.Generator().manual_seed(3))
    y = torch.randn(7, 2, dtype=F64, generator=torch.Generator().manual_seed(4))
    full_sym, full_cross = ntk_structured(model, x), ntk_structured(model, x, y)
    for bs in (1, 3, 4):
        assert torch.allclose(ntk_structured(model, x, block_size=bs), full_sym, rtol=0, atol=1e-12)
        assert torch.allclose(ntk_structured(model, x, y, block_size=bs), full_cross, atol=1e-12)
        assert torch.allclose(ntk_jacrev(model, x, block_size=bs), full_sym, atol=1e-12)
        assert torch.allclose(ntk_jacrev(model, x, y, block_size=bs), full_cross, atol=1e-12)


def test_cross_kernel_is_block_of_joint_kernel() -> None:
    model = mlp(4, 16, 3, b=0.2)
    gen = torch.Generator().manual_seed(5)
    x1 = torch.randn(6, 4, dtype=F64, generator=gen)
    x2 = torch.randn(9, 4, dtype=F64, generator=gen)
    joint = ntk_structured(model, torch.cat([x1, x2]))
    assert torch.allclose(ntk_structured(model, x1, x2), joint[:6, 6:], atol=1e-12)
    assert torch.allclose(ntk_structured(model, x2, x1), joint[6:, :6], atol=1e-12)


def test_jacrev_generic_module_multi_output_frozen_and_buffers() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.BatchNorm1d(5), nn.Linear(5, 2))
    net = net.to(F64).eval()
    net[0].bias.requires_grad_(False)  # frozen parameters are not part of theta
    x1 = torch.randn(4, 3, dtype=F64)
    x2 = torch.randn(3, 3, dtype=F64)
    ref = brute_force_ntk(net, x1, x2)
    assert float((ntk_jacrev(net, x1, x2) - ref).abs().max() / ref.abs().max()) < 1e-10
    assert torch.allclose(empirical_ntk(net, x1, x2), ntk_jacrev(net, x1, x2), atol=1e-13)
    with pytest.raises(ValueError, match="NTKMLP"):
        empirical_ntk(net, x1, method="structured")


def test_kernel_symmetric_psd_and_eigh_descending() -> None:
    model = mlp(8, 64, 4, b=0.1)
    x = make_encoding("toy", m=4)(torch.linspace(0, 1, 40, dtype=F64)[:-1])
    K = empirical_ntk(model, x)
    assert torch.equal(K, K.T)
    eig = kernel_eigh(K)
    assert eig.eigvals.dtype == F64
    assert bool((eig.eigvals[:-1] >= eig.eigvals[1:]).all())
    assert float(eig.eigvals[-1]) > -1e-10 * float(eig.eigvals[0])
    recon = eig.eigvecs @ torch.diag(eig.eigvals) @ eig.eigvecs.T
    assert torch.allclose(recon, K, atol=1e-10 * float(eig.eigvals[0]))


def test_float32_paths_agree() -> None:
    model = mlp(3, 32, 3, dtype=torch.float32)
    x = torch.randn(10, 3)
    Ks, Kj = ntk_structured(model, x), ntk_jacrev(model, x)
    assert Ks.dtype == torch.float32
    assert float((Ks - Kj).abs().max() / Kj.abs().max()) < 1e-5


# ---------------------------------------------------------------- analytic kernel


def test_analytic_closed_form_orthogonal_inputs() -> None:
    # x . x' / d: diagonal 1, off-diagonal 0 -> theta = pi / 2 after the first layer
    x = torch.tensor([[math.sqrt(2.0), 0.0], [0.0, math.sqrt(2.0)]], dtype=F64)
    w = 1.7
    k1 = analytic_relu_kernels(x, depth=1, w_std=w, b_std=0.3)
    assert torch.allclose(k1.ntk, w**2 * torch.eye(2, dtype=F64) + 0.09)
    k2 = analytic_relu_kernels(x, depth=2, w_std=w, b_std=0.0)
    q = w**2
    assert math.isclose(k2.nngp[0, 1], w**2 * q / (2 * math.pi), rel_tol=1e-14)
    assert math.isclose(k2.nngp[0, 0], w**2 * q / 2, rel_tol=1e-14)
    assert math.isclose(k2.ntk[0, 1], w**2 * q / (2 * math.pi), rel_tol=1e-14)  # + w^2/4 * 0
    assert math.isclose(k2.ntk[0, 0], w**2 * q / 2 + w**2 * 0.5 * q, rel_tol=1e-14)


def test_analytic_arccos_expectations_monte_carlo() -> None:
    # E[relu(u) relu(v)], E[relu'(u) relu'(v)] of a 2-layer kernel against sampling
    x = torch.tensor([[1.0, 0.5], [-0.3, 0.9]], dtype=F64)
    k = analytic_relu_kernels(x, depth=2, w_std=1.0, b_std=0.0)
    cov = x @ x.T / 2
    z = torch.randn(400_000, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    uv = z @ torch.linalg.cholesky(cov).T
    e_phi = (uv.relu().prod(1)).mean()
    e_dphi = ((uv > 0).all(1).to(F64)).mean()
    assert math.isclose(k.nngp[0, 1], e_phi, rel_tol=1e-2)
    assert math.isclose(k.ntk[0, 1], e_phi + e_dphi * cov[0, 1], rel_tol=1e-2)


def test_empirical_ntk_converges_to_analytic_with_width() -> None:
    x = make_encoding("basic")(torch.linspace(0, 1, 9, dtype=F64)[:-1])
    w_std, b_std, depth = math.sqrt(2.0), 0.2, 3
    A = analytic_relu_ntk(x, depth=depth, w_std=w_std, b_std=b_std)
    errs = []
    for width in (32, 256, 2048):
        rel = [
            float(
                (ntk_structured(mlp(2, width, depth, "ntk", w_std, b_std, seed=s), x) - A).norm()
                / A.norm()
            )
            for s in range(4)
        ]
        errs.append(sum(rel) / len(rel))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.1 and errs[2] < 0.5 * errs[0]


# ---------------------------------------------------------------- model contract


def test_model_state_dict_and_standard_equivalence() -> None:
    ntk = mlp(3, 8, 3, "ntk", 1.5, 0.2)
    keys = [f"layers.{i}.{n}" for i in range(3) for n in ("weight", "bias")]
    assert list(ntk.state_dict()) == keys
    std = NTKMLP(3, 8, 3, "standard", 1.5, 0.2, dtype=F64)
    with torch.no_grad():
        for ls, ln, (c_w, c_b) in zip(std.layers, ntk.layers, ntk.layer_scales(), strict=True):
            ls.weight.copy_(c_w * ln.weight)
            ls.bias.copy_(c_b * ln.bias)
    x = torch.randn(5, 3, dtype=F64)
    assert torch.allclose(std(x), ntk(x), atol=1e-13)
    assert ntk(x).shape == (5,)
    big = NTKMLP(400, 400, 2, "standard", 2.0, 0.5, generator=torch.Generator().manual_seed(0))
    assert math.isclose(float(big.layers[0].weight.detach().std()), 2.0 / 20.0, rel_tol=0.02)
    assert math.isclose(float(big.layers[0].bias.detach().std()), 0.5, rel_tol=0.1)


@pytest.mark.parametrize(
    "kwargs",
    [{"depth": 0}, {"width": 0}, {"parameterization": "mup"}, {"w_std": -1.0}, {"b_std": math.nan}],
)
def test_model_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        NTKMLP(2, **kwargs)


# ---------------------------------------------------------------- encodings


def test_every_encoding_matches_its_formula() -> None:
    v = torch.tensor([0.0, 0.1, 0.37, 0.8], dtype=F64)
    tau = 2 * math.pi
    assert torch.equal(make_encoding("none")(v), v[:, None])
    assert torch.allclose(
        make_encoding("basic")(v), torch.stack([torch.cos(tau * v), torch.sin(tau * v)], 1)
    )
    m, p = 5, 1.5
    j = torch.arange(1, m + 1, dtype=F64)
    a = j**-p
    ph = tau * v[:, None] * j
    toy = torch.cat([a * torch.cos(ph), a * torch.sin(ph)], 1) / a.norm()
    assert torch.allclose(make_encoding("toy", m=m, p=p)(v), toy, atol=1e-14)
    assert torch.allclose(make_encoding("toy", m=m, p=p, normalize=False)(v), toy * a.norm())
    sigma = 6.0
    freqs = sigma ** (torch.arange(m, dtype=F64) / m)
    ph = tau * v[:, None] * freqs
    assert torch.allclose(
        make_encoding("posenc", m=m, scale=sigma)(v),
        torch.cat([torch.cos(ph), torch.sin(ph)], 1),
        atol=1e-13,
    )
    g = make_encoding("gauss", 3, m=7, scale=sigma, seed=11)
    x3 = torch.rand(6, 3, dtype=F64)
    ph = tau * x3 @ g.B.T
    assert torch.allclose(g(x3), torch.cat([torch.cos(ph), torch.sin(ph)], 1), atol=1e-13)
    assert torch.equal(g.B, make_encoding("gauss", 3, m=7, scale=sigma, seed=11).B)
    assert not torch.equal(g.B, make_encoding("gauss", 3, m=7, scale=sigma, seed=12).B)
    big = make_encoding("gauss", 2, m=4000, scale=sigma, seed=0)
    assert math.isclose(float(big.B.std()), sigma, rel_tol=0.03)


def test_encoding_shapes_dtype_and_dd_input() -> None:
    x = torch.rand(7, 3)
    expected = {"none": 3, "basic": 6, "toy": 2 * 4 * 3, "posenc": 2 * 4 * 3, "gauss": 2 * 4}
    for name in ENCODINGS:
        enc = make_encoding(name, 3, m=4)
        out = enc(x)
        assert out.shape == (7, expected[name]) == (7, enc.out_features)
        assert out.dtype == torch.float32
    # on-axis: toy in 2-D is the 1-D toy of each coordinate (frequency-major column order)
    x2 = torch.rand(5, 2, dtype=F64)
    two = make_encoding("toy", 2, m=3, p=1.0, normalize=False)(x2)
    one = [make_encoding("toy", 1, m=3, p=1.0, normalize=False)(x2[:, k]) for k in (0, 1)]
    cos2 = two[:, :6].reshape(5, 3, 2)
    assert torch.allclose(cos2[:, :, 0], one[0][:, :3])
    assert torch.allclose(cos2[:, :, 1], one[1][:, :3])


def test_toy_p_inf_and_normalization_choice() -> None:
    v = torch.linspace(0, 1, 9, dtype=F64)
    inf = make_encoding("toy", m=4, p=math.inf)(v)
    assert inf.shape == (9, 8)  # zero columns kept: same input dim along a p-sweep
    basic = make_encoding("basic")(v)
    assert torch.equal(inf[:, [0, 4]], basic)
    assert torch.count_nonzero(inf[:, [1, 2, 3, 5, 6, 7]]) == 0
    big_p = make_encoding("toy", m=4, p=60.0)(v)
    assert torch.allclose(big_p, inf, atol=1e-15)  # p = inf is the large-p limit
    for p in (0.0, 0.5, 1.0, 2.0):
        norms = make_encoding("toy", m=4, p=p)(v).norm(dim=1)
        assert torch.allclose(norms, torch.ones(9, dtype=F64))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("fourier", {}), ("toy", {"p": -1.0}), ("toy", {"m": 0}), ("gauss", {"scale": 0.0})],
)
def test_encoding_rejects_bad_arguments(name: str, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        make_encoding(name, **kwargs)


# ---------------------------------------------------------------- kernel algebra and dynamics


def test_solve_well_conditioned_is_exact_and_silent() -> None:
    a = torch.randn(12, 12, dtype=F64, generator=torch.Generator().manual_seed(0))
    K = a @ a.T + 12 * torch.eye(12, dtype=F64)
    y = torch.randn(12, dtype=F64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alpha = kernel_solve(K, y)
    assert torch.allclose(alpha, torch.linalg.solve(K, y), atol=1e-12)


def test_near_singular_solve_warns_and_stays_finite() -> None:
    model = mlp(2, 32, 3)
    x = torch.randn(6, 2, dtype=F64)
    K = ntk_structured(model, torch.cat([x, x[:2]]))  # duplicate points: exactly singular
    y = torch.randn(8, dtype=F64)
    with pytest.warns(NearSingularKernelWarning, match="near-singular"):
        alpha = kernel_solve(K, y)
    assert bool(torch.isfinite(alpha).all())
    with pytest.warns(NearSingularKernelWarning):
        pred = ntk_regression(K, y)
    assert bool(torch.isfinite(pred).all())
    with pytest.raises(ValueError, match="zero"):
        kernel_solve(torch.zeros(3, 3), torch.ones(3))


def test_dynamics_limits_and_eigen_decay() -> None:
    model = mlp(2, 64, 3, b=0.3)
    gen = torch.Generator().manual_seed(1)
    xtr = torch.randn(10, 2, dtype=F64, generator=gen)
    xte = torch.randn(5, 2, dtype=F64, generator=gen)
    K, Kt = ntk_structured(model, xtr), ntk_structured(model, xte, xtr)
    y = torch.randn(10, dtype=F64, generator=gen)
    eig = kernel_eigh(K)
    lr = 0.5 / float(eig.eigvals[0])
    pred = gd_dynamics(K, y, [0.0, 10.0, 1e9, math.inf], lr=lr, K_test_train=Kt)
    assert pred.test is not None
    assert torch.equal(pred.train[0], torch.zeros(10, dtype=F64))
    ridge_free = ntk_regression(K, y, Kt)
    assert torch.allclose(pred.test[3], ridge_free, atol=1e-12)  # t = inf is kernel regression
    assert torch.allclose(pred.test[2], ridge_free, atol=1e-8)  # and the large-t limit
    assert torch.allclose(pred.train[3], y, atol=1e-10)
    # seed eq. 4: Q^T (y_hat - y) = -exp(-lr lambda t) Q^T y
    res = residual_in_eigenbasis(eig, pred.train[1], y)
    expect = -torch.exp(-lr * eig.eigvals * 10.0) * (eig.eigvecs.T @ y)
    assert torch.allclose(res, expect, atol=1e-12)
    # several targets at once, and discrete steps close to continuous for a small lr
    ys = torch.stack([y, 2 * y], 1)
    multi = gd_dynamics(K, ys, [5.0], lr=lr / 100, K_test_train=Kt, discrete=True)
    cont = gd_dynamics(K, y, [5.0], lr=lr / 100, K_test_train=Kt)
    assert multi.train.shape == (1, 10, 2)
    assert torch.allclose(multi.test[0, :, 1], 2 * multi.test[0, :, 0], atol=1e-12)
    assert torch.allclose(multi.test[0, :, 0], cont.test[0], rtol=1e-2)


def test_dynamics_predicts_full_batch_gd_of_wide_network() -> None:
    enc = make_encoding("toy", m=4, p=1.0)
    grid = torch.arange(64, dtype=F64) / 64
    xtr, xte = enc(grid[::4]), enc(grid[2::4])

    def target(v: Tensor) -> Tensor:
        return torch.sin(2 * math.pi * v) + 0.5 * torch.cos(6 * math.pi * v)

    ytr, yte = target(grid[::4]), target(grid[2::4])
    model = mlp(8, 512, 3, "ntk", math.sqrt(2.0), 0.1)
    K, Kt = ntk_structured(model, xtr), ntk_structured(model, xte, xtr)
    lr = 0.5 / float(kernel_eigh(K).eigvals[0])  # for L = 1/2 sum (f - y)^2
    steps = [0, 10, 40, 120]
    with torch.no_grad():
        f0tr, f0te = model(xtr), model(xte)
    pred = gd_dynamics(
        K, ytr, steps, lr=lr, K_test_train=Kt, f0_train=f0tr, f0_test=f0te, discrete=True
    )
    params = list(model.parameters())
    got_tr, got_te = [], []
    for step in range(steps[-1] + 1):
        if step in steps:
            with torch.no_grad():
                got_tr.append(model(xtr))
                got_te.append(model(xte))
        loss = 0.5 * ((model(xtr) - ytr) ** 2).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
    net_tr, net_te = torch.stack(got_tr), torch.stack(got_te)
    gap_tr = float((net_tr - pred.train).norm(dim=1).max() / ytr.norm())
    gap_te = float((net_te - pred.test).norm(dim=1).max() / yte.norm())
    moved = float((net_tr[-1] - net_tr[0]).norm() / ytr.norm())
    assert moved > 0.5  # the network really trained
    assert float((net_tr[-1] - ytr).norm() / ytr.norm()) < 0.05
    assert gap_tr < 0.04 and gap_te < 0.05


def test_kernel_algebra_rejects_bad_shapes_and_lr() -> None:
    K = torch.eye(4, dtype=F64)
    with pytest.raises(ValueError, match="shape"):
        kernel_solve(K, torch.ones(3))
    with pytest.raises(ValueError, match="square"):
        kernel_eigh(torch.ones(3, 4))
    with pytest.raises(ValueError, match="lr"):
        gd_dynamics(K, torch.ones(4), [1.0], lr=0.0)
    with pytest.raises(ValueError, match="times"):
        gd_dynamics(K, torch.ones(4), [-1.0], lr=0.1)
    with pytest.raises(ValueError, match="K_test_train"):
        gd_dynamics(K, torch.ones(4), [1.0], lr=0.1, K_test_train=torch.ones(2, 3))
    with pytest.raises(ValueError, match="unknown NTK method"):
        empirical_ntk(mlp(2, 3, 2), torch.ones(2, 2), method="jvp")  # type: ignore[arg-type]
