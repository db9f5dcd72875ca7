"""Trainable spectra-LSTM models: the contract cell and a standard ``nn.LSTM`` baseline.

:class:`SpectraCell` is the cell contract of :mod:`spectral_cli.spectra_lstm.construct`
(``torch.nn.LSTMCell`` layout, input gate ``tanh``) as a differentiable module with a readout
that returns the spectrum of every window (``y`` at steps ``(j+1)T - 1 + d``).

Parameterization ("natural units").  Every tensor entry is ``W = theta * scale`` with a fixed,
non-trainable ``scale`` and trainable ``theta``: row ``r`` of the gates has an operating scale
``p_r`` (about ``S`` for a saturated switch, ``1`` for a lookup, ``delta`` for a linearised
``tanh``), hidden unit ``c`` an amplitude ``m_c`` (``gen`` ~1, ``sum`` ~``delta``, ``prod``
~``delta^2``) and the input a bound ``X``; then ``weight_ih = theta p_r / X``, ``weight_hh =
theta p_r / m_c``, biases ``theta p_r``, ``readout = theta s_out / m_c``.  All scales are powers
of two taken from the construction, so ``theta`` is O(1) at the construction and the *function*
is exactly the contract cell; only the optimizer's geometry changes (equivalently: Adam with a
per-entry learning rate ``lr * scale``).  Without it the construction cannot be trained at all:
at T=8 its input weights are ~1e-82 and its readout ~6e163 in float64 (~1e-12 and ~5e24 in
float32) with the default input bound, and one Adam step of absolute size ``lr`` on every entry
destroys it.  Random initialisations use unit scales (plain parameters, ``nn.LSTMCell``'s
default init), since there is no construction to take units from.  This is where we
deliberately differ from the seed, which trains the raw parameters with a fixed ``2^-5``
linearisation scale (the training data fit the bound: the construction is built with
``input_bound`` = the signals' amplitude bound, rounded up to a power of two).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from spectral_cli.spectra_lstm.config import INITS, SpectraLSTMRunConfig
from spectral_cli.spectra_lstm.data import SpectraInfo
from spectral_cli.spectra_lstm.reference import (
    SpectraLSTMWeights,
    construct,
    design_scales,
    resolve_dtype,
)
from spectral_cli.spectra_lstm.state import FIELDS


def _pow2(v: Tensor) -> Tensor:
    """Nearest power of two of each positive entry (1 where the entry is 0)."""
    v = torch.where(v > 0, v, torch.ones_like(v))
    return torch.exp2(torch.round(torch.log2(v)))


def natural_scales(w: SpectraLSTMWeights) -> dict[str, Tensor]:
    """Per-entry scales (float64) of the six tensors for ``w`` (see module docstring)."""
    sc = w.scales or design_scales(w.window, w.built_dtype)
    X, delta = sc["input_bound"], sc["delta"]
    H = w.hidden_size
    m = torch.ones(H, dtype=torch.float64)
    m[slice(*w.blocks["sum"])] = delta
    m[slice(*w.blocks["prod"])] = delta**2
    m = _pow2(m)
    w_ih, w_hh = w.weight_ih.double(), w.weight_hh.double()
    b = (w.bias_ih.double() + w.bias_hh.double()).abs()
    row = torch.stack([b, w_ih[:, 0].abs() * X, (w_hh.abs() * m).sum(dim=1)]).amax(dim=0)
    p = _pow2(row)
    s_out = float(_pow2((w.readout_weight.double().abs() * m).amax()))
    return {
        "weight_ih": (p / X)[:, None],
        "weight_hh": p[:, None] / m[None, :],
        "bias_ih": p.clone(),
        "bias_hh": p.clone(),
        "readout_weight": s_out / m[None, :].expand(w.window, H).clone(),
        "readout_bias": torch.full((w.window,), s_out, dtype=torch.float64),
    }


class SpectraCell(nn.Module):
    """The contract cell, ``W = theta * scale``; ``forward(x [B, N]) -> [B, W, T]`` spectra."""

    scale_weight_hh: Tensor  # buffer (one per field: scale_<field>)
    theta_weight_hh: nn.Parameter  # parameter (one per field: theta_<field>)

    def __init__(
        self, weights: SpectraLSTMWeights, scales: dict[str, Tensor] | None, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.window, self.hidden_size = weights.window, weights.hidden_size
        self.readout_delay, self.blocks = weights.readout_delay, dict(weights.blocks)
        self.built_dtype = weights.built_dtype
        for name in FIELDS:
            value = getattr(weights, name).to(torch.float64)
            scale = scales[name] if scales is not None else torch.ones_like(value)
            self.register_buffer(f"scale_{name}", scale.to(dtype))
            self.register_parameter(f"theta_{name}", nn.Parameter((value / scale).to(dtype)))

    def effective(self, name: str) -> Tensor:
        return getattr(self, f"theta_{name}") * getattr(self, f"scale_{name}")

    def weights(self) -> SpectraLSTMWeights:
        """The current effective weights (detached) in the contract's form."""
        vals = {n: self.effective(n).detach().clone() for n in FIELDS}
        return SpectraLSTMWeights.from_tensors(
            vals,
            window=self.window,
            hidden_size=self.hidden_size,
            readout_delay=self.readout_delay,
            blocks=self.blocks,
            built_dtype=self.built_dtype,
        )

    def forward(self, x: Tensor) -> Tensor:
        T, d = self.window, self.readout_delay
        B, N = x.shape
        W = N // T
        x = nn.functional.pad(x[:, : W * T], (0, d))
        w_ih, w_hh, b_ih, b_hh, w_out, b_out = (self.effective(n) for n in FIELDS)
        igates = x[..., None] * w_ih[:, 0] + (b_ih + b_hh)  # [B, N, 4H]
        h = x.new_zeros(B, self.hidden_size)
        c = torch.zeros_like(h)
        w_hh_t = w_hh.t()
        out = []
        for t in range(x.shape[1]):
            i, f, g, o = (igates[:, t] + h @ w_hh_t).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.tanh(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            if t >= T - 1 + d and (t - (T - 1 + d)) % T == 0:
                out.append(h)
        hs = torch.stack(out, dim=1)
        return hs @ w_out.t() + b_out


class StandardLSTM(nn.Module):
    """``nn.LSTM`` (sigmoid input gate) of the same hidden size plus a linear readout."""

    def __init__(self, window: int, hidden_size: int) -> None:
        super().__init__()
        self.window, self.hidden_size = window, hidden_size
        self.lstm = nn.LSTM(1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, window)

    def weight_hh(self) -> Tensor:
        return self.lstm.all_weights[0][1].detach()  # weight_hh_l0

    def forward(self, x: Tensor) -> Tensor:
        T = self.window
        W = x.shape[1] // T
        hs, _ = self.lstm(x[:, : W * T, None])
        return self.readout(hs[:, T - 1 :: T])

    @torch.no_grad()
    def spectrogram(self, signal: Tensor) -> Tensor:
        """Spectra ``[W, T]`` of a 1-D signal (for ``verify-lstm`` on a trained baseline)."""
        return self.forward(signal.to(self.readout.weight)[None])[0]


def build_model(
    init: str, window: int, dtype: torch.dtype, input_bound: float, noise: float, seed: int
) -> tuple[nn.Module, SpectraLSTMWeights]:
    """The model for ``init`` and the reference construction it is compared with.

    ``exact``: the construction; ``perturbed``: plus N(0, ``noise``^2) on every ``theta`` entry
    (natural units, so the noise is relative to each entry's operating scale); ``random``: the
    same cell with ``nn.LSTMCell``-style uniform init and unit scales; ``standard``:
    :class:`StandardLSTM`.  Random draws come from a generator seeded with ``seed``.
    """
    ref = construct(window, dtype, input_bound=input_bound)
    g = torch.Generator().manual_seed(seed)
    if init in ("exact", "perturbed"):
        model: nn.Module = SpectraCell(ref, natural_scales(ref), dtype)
        if init == "perturbed":
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(noise * torch.randn(p.shape, generator=g, dtype=torch.float64).to(dtype))
        return model, ref
    if init == "random":
        model = SpectraCell(ref, None, dtype)
        bound = 1.0 / math.sqrt(ref.hidden_size)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_((2 * torch.rand(p.shape, generator=g, dtype=torch.float64) - 1) * bound)
        return model, ref
    if init == "standard":
        state = torch.random.get_rng_state()
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
        model = StandardLSTM(window, ref.hidden_size).to(dtype)
        torch.random.set_rng_state(state)
        return model, ref
    raise ValueError(f"unknown init {init!r}")


def weight_hh_of(model: nn.Module) -> Tensor:
    """The effective recurrent weight matrix ``[4H, H]`` of either model (detached, float64)."""
    if isinstance(model, SpectraCell):
        return model.effective("weight_hh").detach().double()
    return model.weight_hh().double().clone()  # type: ignore[operator]


def theta_hh_of(model: nn.Module) -> Tensor:
    """``weight_hh`` in the model's own parameter units (``theta``; raw weights if unscaled)."""
    if isinstance(model, SpectraCell):
        return model.theta_weight_hh.detach().double().clone()
    return weight_hh_of(model)


def block_drift(
    before: Tensor, after: Tensor, blocks: dict[str, tuple[int, int]]
) -> dict[str, float | None]:
    """Relative Frobenius change per block of ``weight_hh``: the rows of all four gates of the
    block's units (every column).  ``None`` for an empty block (``spec``) or a zero reference."""
    H = before.shape[1]
    out: dict[str, float | None] = {}
    for name, (a, b) in blocks.items():
        rows = torch.cat([torch.arange(g * H + a, g * H + b) for g in range(4)])
        ref = before[rows]
        denom = float(torch.linalg.norm(ref))
        out[name] = (
            None
            if rows.numel() == 0 or denom == 0
            else float(torch.linalg.norm(after[rows] - ref) / denom)
        )
    out["all"] = float(torch.linalg.norm(after - before) / torch.linalg.norm(before))
    return out


def model_seed(cfg: SpectraLSTMRunConfig) -> int:
    """Seeded by init name: an ``--init`` run equals that part of a ``--compare`` run."""
    return cfg.seed * 7919 + INITS.index(cfg.model.init)


def build(cfg: SpectraLSTMRunConfig, info: SpectraInfo) -> nn.Module:
    dt = resolve_dtype(cfg.model.dtype)
    return build_model(
        cfg.model.init, cfg.model.window, dt, info.input_bound, cfg.model.noise, model_seed(cfg)
    )[0]
