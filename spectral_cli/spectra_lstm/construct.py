"""Exact hand construction of the spectra-LSTM (the *wavebase* document).

The cell contract (``torch.nn.LSTMCell`` layout, rows ``i, f, g, o``, but ``i = tanh``)::

    pre = W_ih x_t + b_ih + W_hh h + b_hh         # [4H]
    i = tanh(pre_i)  f = sigmoid(pre_f)  g = tanh(pre_g)  o = sigmoid(pre_o)
    c' = f c + i g      h' = o tanh(c')      y_t = W_out h' + b_out     (h_0 = c_0 = 0)

For window ``j`` (samples ``jT .. jT+T-1``) the power spectrum ``P_j[0..T-1]`` is ``y`` at step
``t = (j+1)T - 1 + d`` with readout delay ``d = 0``: the spectrum of a window is ready at the step
that consumes its last sample.

Construction (hidden size ``H = 3T - 1``; the seed uses ``7T``)
----------------------------------------------------------------
Three blocks.  Let ``q = (t mod T)`` be the phase of the step being computed.

* ``gen`` (``T-1`` units): a one-hot phase counter.  Unit ``n`` is on after a step of phase
  ``n``; phase ``T-1`` is the all-off state, which is also the initial state, so the counter needs
  no start-up step.  Each unit has ``i = g = tanh(S) = 1`` and ``f = sigmoid(-S) = 0``, so
  ``c = 1`` and ``h = o tanh(1) = o tau`` with ``o = sigmoid(+-S)`` exactly ``1`` or ``0``: unit 0
  turns on iff all units are off, unit ``n`` iff unit ``n-1`` was on.  The gates see the previous
  step's counter, i.e. they know ``q``, and since every counter value is exactly ``0`` or ``tau``
  the state is exactly periodic: nothing can drift over any number of windows.
* ``sum`` (``T`` units): one accumulator per real DFT coefficient, ``A_k = sum x cos(2 pi k m/T)``
  for ``k = 0..T//2`` and ``B_k = sum x sin(2 pi k m/T)`` for ``k = 1..(T-1)//2`` (for real ``x``,
  ``P_k = P_{T-k}``, so these ``T`` numbers determine all ``T`` bins).  Its input gate is a lookup
  table on the counter, ``i = tanh(b + w . h_gen) = gamma cos(2 pi k q/T)`` (``b = atanh`` of the
  phase-0 value, ``w_n = (atanh(v(n+1)) - b) / tau``); ``g = tanh(eps x)``; ``o = 1``; and
  ``f = sigmoid(-S + (2S/tau) sum h_gen)`` is exactly 0 at phase 0 (reset) and exactly 1 otherwise.
  So ``c = eps gamma * (partial sum of the window)`` with no cross-window leakage.
* ``prod`` (``T`` units): ``i = g = tanh(h_sum + eps v(T-1) x_t)``, ``f = 0``, ``o = 1``.  At the
  last phase the argument is ``eps gamma`` times the *complete* coefficient (the last term enters
  through ``W_ih``, which is why ``d = 0``), so ``h_prod = (eps gamma A_k)^2``.
* ``spec``: empty.  The spectral pooling ``P_k = A_k^2 + B_k^2`` (and ``P_{T-k} = P_k``) is linear,
  so it lives in ``readout.weight`` (entries ``1/(eps gamma)^2``); ``readout.bias = 0``.

Scales (all powers of two, derived from ``torch.finfo(dtype)`` and ``T``)
----------------------------------------------------------------------
* ``u = eps_mach / 2`` (unit roundoff).  Switch size ``S = 2^ceil(log2(1.5 L))`` with
  ``L = -ln(tiny * eps_mach)``, so ``sigmoid(-S)`` underflows to exactly 0 (its exact value is below
  the smallest subnormal), and ``sigmoid(S) = tanh(S) = 1`` exactly (``S`` far above 37 / 19).
  ``S = 2048`` in float64, ``256`` in float32.
* Linear-regime size ``delta = 2^floor(log2(sqrt(3u/8)))`` (``2^-28`` float64, ``2^-13`` float32):
  the largest argument any linearised ``tanh`` sees.  ``tanh(z) = z (1 - z^2/3 + ...)``, so each
  linearised ``tanh`` has relative error at most ``delta^2/3 <= u/8``.
* Input bound ``X``: ``eps gamma = delta / (2^ceil(log2 T) X)``, so ``|c_sum| <= delta`` whenever
  ``|x_t| <= X``.  The default centres the usable exponent range on 1: the smallest stage value is
  ``h_prod ~ (delta A/(T X))^2``, which must stay a normal number, leaving a span of ``2^s`` with
  ``s = floor((log2(1/tiny) - 2 log2(1/delta)) / 2)``, and ``X = 2^floor(s/2)``: ``2^241`` (float64)
  and ``2^25 ~ 3.4e7`` (float32).  ``gamma = 1/2`` keeps the lookup away from ``atanh``'s pole.

Error analysis (relative to ``max_k P_j``, which is ``>= sum_t x_t^2`` by Parseval)
-----------------------------------------------------------------------------------
1. Switches are exact (0/1 bit-for-bit), the counter is exactly periodic and the accumulator reset
   multiplies by an exact 0, so every window is computed by the same arithmetic: no growth.
2. Lookup coefficients: ``tanh`` of a rounded argument of size <= ``2 atanh(1/2)``; absolute error a
   few ``u`` times ``gamma``.  An absolute coefficient error ``eta`` changes ``A`` by at most
   ``eta ||x||_1 <= eta sqrt(T) ||x||_2``, i.e. ``P`` by ``<= 2 eta sqrt(T) max P``.
3. Linearisation: four ``tanh`` (``g`` of ``sum``, ``h`` of ``sum``, ``i``/``g`` of ``prod``) in the
   linear regime, ``|z| <= delta (|x|_max / X)``; total relative error ``<= (4/3) delta^2 (|x|/X)^2
   <= u/2`` for ``|x| <= X``; it falls quadratically for smaller signals.  ``h = tanh(c_prod)``
   contributes ``delta^4/3``.  No signal-dependent scaling is assumed: every step is homogeneous of
   degree 1 (sum) or 2 (prod) in ``x``, so the relative error is the same at every amplitude until
   ``h_prod`` reaches the subnormal range (below about ``1e-7`` in float32, ``1e-70`` in float64).
   As ``delta^2/3 < u/2``, a linearised ``tanh`` returns ``z`` itself up to its own last-bit
   rounding: a constant input at ``X`` (every ``tanh`` at the edge) gives ``P_0`` exactly.
4. Rounding: ``T-1`` additions in the accumulator (recursive summation, ``<= T u ||x||_1``
   worst case, ``~ sqrt(T) u`` typical) and O(1) roundings in the product and readout.  Expected
   worst error a few ``sqrt(T) u``: ~1e-15 in float64, ~1e-6 in float32 at ``T = 128``.

Valid range and requirements
----------------------------
Full accuracy holds for ``max_t |x_t| <= X`` (``scales['input_bound']``) and a window peak
``max_k |X_k| >= scales['min_peak_magnitude']`` (``sqrt(tiny) 2^ceil(log2 T) X / delta``): about
``1e-7 .. 3.4e7`` (float32) and ``1e-70 .. 3.5e72`` (float64) in sample amplitude.  Above ``X`` the
error grows as ``(|x|/X)^2 u``; below the floor ``h_prod`` is subnormal and loses bits.  The runner
needs IEEE arithmetic without flush-to-zero, ``tanh``/``sigmoid`` accurate to about an ulp, and
full-precision float32 matmuls (no TF32: it would round the lookup weights to 10 bits).  Weights
built for float32 run in float64 keep float32 accuracy (their lookup weights are float32-rounded);
weights built for float64 do not fit float32 (``readout.weight ~ 1e166`` overflows), which
``from_state_dict`` reports.  Measured worst errors (``benchmarks/spectra_lstm.py``, N(0,1) at
amplitudes 1e-3/1/1e3 and sines): float64 7e-16 (T=8) .. 2e-15 (T=128); float32 2.5e-7 .. 9e-7.

Hidden size: ``T - 1`` counter units are the fewest giving an arbitrary phase lookup through a
linear pre-activation, ``T`` accumulators hold the ``T`` real DFT degrees of freedom, and each
product (``i g``) needs its own unit, so ``3T - 1`` is minimal for this scheme.

Where this differs from the seed: the seed linearises ``tanh`` at a fixed scale ``2^-5`` (0.5-12 %
error) and its window reset never fires for ``T >= 3``; here scales come from the dtype and ``T``,
resets are exact zeros from saturated sigmoids, and the hidden size is ``3T - 1``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

SUPPORTED_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}
GAMMA = 0.5  # amplitude of the cos/sin lookup table (a power of two, away from atanh's pole)
READOUT_DELAY = 0


@dataclass(frozen=True)
class SpectraLSTMWeights:
    """The six tensors of the cell plus the metadata a checkpoint stores."""

    weight_ih: torch.Tensor  # [4H, 1]
    weight_hh: torch.Tensor  # [4H, H]
    bias_ih: torch.Tensor  # [4H]
    bias_hh: torch.Tensor  # [4H]
    readout_weight: torch.Tensor  # [T, H]
    readout_bias: torch.Tensor  # [T]
    window: int
    hidden_size: int
    readout_delay: int
    blocks: dict[str, tuple[int, int]]
    built_dtype: str  # dtype the scales were derived for ("float32" / "float64")
    scales: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, torch.Tensor], **meta: Any) -> SpectraLSTMWeights:
        """The six tensors by field name, plus the metadata fields by keyword."""
        return cls(
            weight_ih=tensors["weight_ih"],
            weight_hh=tensors["weight_hh"],
            bias_ih=tensors["bias_ih"],
            bias_hh=tensors["bias_hh"],
            readout_weight=tensors["readout_weight"],
            readout_bias=tensors["readout_bias"],
            **meta,
        )

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the tensors are stored in (may differ from ``built_dtype`` after a cast)."""
        return self.weight_hh.dtype


def check_window(window: object) -> int:
    """Return ``window`` as an ``int`` >= 2, or raise ``ValueError``."""
    if isinstance(window, bool) or not isinstance(window, (numbers.Integral, float)):
        raise ValueError(f"window must be an integer >= 2, got {window!r}")
    if isinstance(window, float) and not (math.isfinite(window) and window.is_integer()):
        raise ValueError(f"window must be an integer >= 2, got {window!r}")
    value = int(window)
    if value < 2:
        raise ValueError(f"window must be an integer >= 2, got {value}")
    return value


def resolve_dtype(dtype: torch.dtype | str) -> torch.dtype:
    """Map ``torch.float32``/``"float32"``/``torch.float64``/``"float64"``; reject anything else."""
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in SUPPORTED_DTYPES:
        return SUPPORTED_DTYPES[dtype.removeprefix("torch.")]
    if isinstance(dtype, torch.dtype) and dtype in SUPPORTED_DTYPES.values():
        return dtype
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def design_scales(
    window: int, dtype: torch.dtype | str, input_bound: float | None = None
) -> dict[str, float]:
    """The scale constants of the construction (see the module docstring), as Python floats."""
    T = check_window(window)
    fi = torch.finfo(resolve_dtype(dtype))
    u = fi.eps / 2
    switch = 2.0 ** math.ceil(math.log2(1.5 * -math.log(fi.tiny * fi.eps)))
    delta = 2.0 ** math.floor(math.log2(math.sqrt(3 * u / 8)))
    if input_bound is None:
        span = math.floor((-math.log2(fi.tiny) - 2 * -math.log2(delta)) / 2)
        input_bound = 2.0 ** math.floor(span / 2)
    elif not (math.isfinite(input_bound) and input_bound > 0):
        raise ValueError(f"input_bound must be a positive finite number, got {input_bound!r}")
    else:
        input_bound = 2.0 ** math.ceil(math.log2(input_bound))
    t_pow = 2.0 ** math.ceil(math.log2(T))
    eps_gamma = delta / (t_pow * input_bound)
    return {
        "switch": switch,
        "delta": delta,
        "gamma": GAMMA,
        "input_bound": input_bound,
        "input_scale": eps_gamma / GAMMA,
        "readout_scale": 1.0 / eps_gamma**2,
        # below this peak |X_k| of a window, h_prod leaves the normal range (precision degrades)
        "min_peak_magnitude": math.sqrt(fi.tiny) * t_pow * input_bound / delta,
        "tau": float(torch.tanh(torch.tensor(1.0, dtype=resolve_dtype(dtype)))),
    }


def coefficient_table(window: int) -> tuple[list[tuple[int, str]], torch.Tensor]:
    """Real DFT coefficients ``r -> (k, 'cos'|'sin')`` and table ``v[r, m] = trig(2 pi k m / T)``.

    Angles are reduced (``k m mod T``) before the float64 ``cos``/``sin``.
    """
    T = check_window(window)
    coeffs = [(k, "cos") for k in range(T // 2 + 1)] + [(k, "sin") for k in range(1, (T + 1) // 2)]
    k = torch.tensor([c[0] for c in coeffs], dtype=torch.float64)[:, None]
    m = torch.arange(T, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * torch.remainder(k * m, T) / T
    is_sin = torch.tensor([c[1] == "sin" for c in coeffs])[:, None]
    return coeffs, torch.where(is_sin, torch.sin(angle), torch.cos(angle))


def construct(
    window: int, dtype: torch.dtype | str = torch.float64, input_bound: float | None = None
) -> SpectraLSTMWeights:
    """Build the exact spectra-LSTM for window ``T`` with scales derived for ``dtype``.

    ``input_bound`` (default: derived from the dtype's exponent range, see module docstring) is the
    largest ``|x_t|`` for which the linearisation error stays below ``u/2``; it is rounded up to a
    power of two.  Raises ``ValueError`` for ``T < 2``, a non-integer ``T`` or an unsupported dtype.
    """
    T = check_window(window)
    dt = resolve_dtype(dtype)
    sc = design_scales(T, dt, input_bound)
    S, tau, eps, gamma = sc["switch"], sc["tau"], sc["input_scale"], sc["gamma"]
    n_gen = T - 1
    gen, acc, prod = torch.arange(n_gen), n_gen + torch.arange(T), n_gen + T + torch.arange(T)
    H = n_gen + 2 * T
    I, F, G, O = 0, H, 2 * H, 3 * H  # noqa: E741 - gate row offsets in LSTMCell order
    w_ih = torch.zeros(4 * H, 1, dtype=torch.float64)
    w_hh = torch.zeros(4 * H, H, dtype=torch.float64)
    b_hh = torch.zeros(4 * H, dtype=torch.float64)
    # gen: c = i g = 1, f = 0, o = one-hot successor switch.
    b_hh[I + gen], b_hh[G + gen], b_hh[F + gen] = S, S, -S
    b_hh[O + gen] = -S
    b_hh[O + 0] = S
    w_hh[O + 0, gen] = -2 * S / tau
    w_hh[O + gen[1:], gen[:-1]] = 2 * S / tau
    # sum: i = lookup gamma*trig(phase), g = tanh(eps x), f = reset at phase 0, o = 1.
    _, table = coefficient_table(T)
    z = torch.atanh(gamma * table)  # [T coeffs, T phases]
    b_hh[I + acc] = z[:, 0]
    w_hh[(I + acc)[:, None], gen[None, :]] = (z[:, 1:] - z[:, :1]) / tau
    w_ih[G + acc, 0] = eps
    b_hh[F + acc] = -S
    w_hh[(F + acc)[:, None], gen[None, :]] = 2 * S / tau
    b_hh[O + acc] = S
    # prod: i = g = tanh(h_sum + eps*gamma*trig(T-1) x), f = 0, o = 1  ->  h = (eps gamma A)^2.
    for row in (I + prod, G + prod):
        w_hh[row, acc] = 1.0
        w_ih[row, 0] = eps * gamma * table[:, T - 1]
    b_hh[F + prod], b_hh[O + prod] = -S, S
    # readout: P_k = A_k^2 + B_k^2 with k folded to min(k, T-k).
    w_out = torch.zeros(T, H, dtype=torch.float64)
    coeffs, _ = coefficient_table(T)
    for r, (k, _kind) in enumerate(coeffs):
        w_out[k, prod[r]] = sc["readout_scale"]
        if 0 < k < T - k:
            w_out[T - k, prod[r]] = sc["readout_scale"]
    blocks = {
        "gen": (0, n_gen),
        "sum": (n_gen, n_gen + T),
        "prod": (n_gen + T, H),
        "spec": (H, H),
    }
    return SpectraLSTMWeights(
        weight_ih=w_ih.to(dt),
        weight_hh=w_hh.to(dt),
        bias_ih=torch.zeros(4 * H, dtype=dt),
        bias_hh=b_hh.to(dt),
        readout_weight=w_out.to(dt),
        readout_bias=torch.zeros(T, dtype=dt),
        window=T,
        hidden_size=H,
        readout_delay=READOUT_DELAY,
        blocks=blocks,
        built_dtype=dtype_name(dt),
        scales=sc,
    )
