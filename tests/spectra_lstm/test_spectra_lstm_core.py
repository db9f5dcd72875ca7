"""Core tests of the exact spectra-LSTM (issue 7): construction, contract, accuracy, inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from spectral_cli.spectra_lstm.reference import (
    STATE_DICT_NAMES,
    construct,
    default_tolerance,
    from_state_dict,
    reference_spectra,
    run_cell,
    spectrogram,
    to_state_dict,
    verify,
)

DTYPES = [torch.float64, torch.float32]
TOL = {torch.float64: 1e-12, torch.float32: 1e-5}


def independent_cell(sd: dict[str, torch.Tensor], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The issue's cell contract, written out: returns (y [N, T], h [N, H]) in sd's dtype."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    w_ih, w_hh, b_ih, b_hh = (sd[f"cell.{n}"] for n in names)
    w_out, b_out = sd["readout.weight"], sd["readout.bias"]
    h = c = torch.zeros(w_hh.shape[1], dtype=w_hh.dtype)
    ys, hs = [], []
    for xt in torch.as_tensor(x, dtype=w_hh.dtype):
        i, f, g, o = (w_ih[:, 0] * xt + b_ih + w_hh @ h + b_hh).chunk(4)
        c = torch.sigmoid(f) * c + torch.tanh(i) * torch.tanh(g)  # input gate: tanh, not sigmoid
        h = torch.sigmoid(o) * torch.tanh(c)
        ys.append(w_out @ h + b_out)
        hs.append(h)
    return torch.stack(ys).double().numpy(), torch.stack(hs).double().numpy()


def numpy_spectra(x: np.ndarray, T: int) -> np.ndarray:
    W = len(x) // T
    return np.abs(np.fft.fft(x[: W * T].reshape(W, T), axis=-1)) ** 2


def rel_err(est: np.ndarray, ref: np.ndarray) -> float:
    return float((np.abs(est - ref).max(axis=-1) / ref.max(axis=-1)).max())


def sines(n: int, T: int, amp: float = 1.0) -> np.ndarray:
    t = np.arange(n)
    comps = [(1.0, 1.0, 0.3), (0.3, 2.5, 1.1), (1e-3, T / 2 - 0.25, 2.0), (0.5, 0.0, 0.0)]
    return amp * sum(a * np.cos(2 * np.pi * f * t / T + p) for a, f, p in comps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T", range(2, 17))
def test_contract_all_small_windows(T: int, dtype: torch.dtype) -> None:
    """Saved tensors run by an independent implementation match numpy's FFT to the tolerance."""
    w = construct(T, dtype)
    assert w.hidden_size == 3 * T - 1 and w.readout_delay == 0
    sd, cfg = to_state_dict(w)
    x = np.random.default_rng(T).standard_normal(5 * T)
    y, h = independent_cell(sd, x)
    d = cfg["readout_delay"]
    est = y[T - 1 + d :: T]
    assert rel_err(est, numpy_spectra(x, T)) <= TOL[dtype]
    # the module's runner agrees with the independent one (same contract, rounding-level)
    ours = run_cell(w, x).double().numpy()
    assert np.abs(ours - y).max() <= 8 * torch.finfo(dtype).eps * np.abs(y).max()
    # the phase counter is exactly one-hot in {0, tanh(1)}: phase n -> unit n, phase T-1 all off
    lo, hi = cfg["blocks"]["gen"]
    gen = h[:, lo:hi]
    tau = float(torch.tanh(torch.tensor(1.0, dtype=dtype)))
    expect = np.zeros_like(gen)
    phase = np.arange(len(x)) % T
    rows = phase < T - 1
    expect[np.nonzero(rows)[0], phase[rows]] = tau
    assert np.array_equal(gen, expect)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T", [32, 64, 128])
def test_larger_windows(T: int, dtype: torch.dtype) -> None:
    x = np.random.default_rng(T).standard_normal(3 * T)
    assert verify(construct(T, dtype), x).max_error <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amp", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("T", [3, 8, 16])
def test_amplitudes_and_sines(T: int, amp: float, dtype: torch.dtype) -> None:
    """No signal-dependent scaling: random and sum-of-sinusoid signals at any amplitude pass."""
    w = construct(T, dtype)
    noise = amp * np.random.default_rng(7).standard_normal(6 * T)
    assert verify(w, noise).max_error <= TOL[dtype]
    assert verify(w, sines(6 * T, T, amp)).max_error <= TOL[dtype]


@pytest.mark.parametrize(
    ("dtype", "amps"), [(torch.float64, [1e-60, 1e60]), (torch.float32, [1e-6, 1e6])]
)
def test_extreme_amplitudes(dtype: torch.dtype, amps: list[float]) -> None:
    """Far outside 1e-3..1e3 (documented range: ~1e-7..3e7 float32, ~1e-70..3e72 float64)."""
    w = construct(8, dtype)
    for amp in amps:
        assert verify(w, amp * np.random.default_rng(1).standard_normal(48)).max_error <= TOL[dtype]
    assert w.scales["min_peak_magnitude"] < amps[0] < amps[1] < w.scales["input_bound"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_growth_over_2000_windows(dtype: torch.dtype) -> None:
    """Pins the fix of the seed's defect (its window reset never fires for T >= 3)."""
    T = 4
    w = construct(T, dtype)
    x = np.random.default_rng(3).standard_normal(2000 * T)
    r = verify(w, x)
    assert r.windows == 2000 and r.passed
    err = np.array(r.per_window)
    assert err[-500:].max() <= 4 * err[:500].max() + torch.finfo(dtype).eps
    # the same window repeated 2000 times gives bit-identical spectra (exact reset, exact counter)
    rep = spectrogram(w, np.tile(x[:T], 2000))
    assert torch.equal(rep, rep[:1].expand_as(rep))


def test_safetensors_round_trip(tmp_path: Path) -> None:
    w = construct(6, torch.float32)
    sd, cfg = to_state_dict(w)
    assert tuple(sd) == STATE_DICT_NAMES
    assert set(cfg) == {"window", "hidden_size", "readout_delay", "dtype", "blocks"}
    assert set(cfg["blocks"]) == {"gen", "sum", "prod", "spec"}
    path = tmp_path / "spectra_lstm.safetensors"
    save_file(sd, str(path), metadata={"spectral.config": json.dumps(cfg)})
    loaded = from_state_dict(load_file(str(path)), json.loads(json.dumps(cfg)))
    x = np.random.default_rng(0).standard_normal(60)
    assert torch.equal(spectrogram(loaded, x), spectrogram(w, x))
    # a float32 checkpoint run in float64 keeps float32 accuracy, and says so
    r64 = verify(from_state_dict(sd, cfg, dtype=torch.float64), x)
    assert r64.passed and r64.tol == 1e-5 and r64.note and "float32" in r64.note
    assert not verify(from_state_dict(sd, cfg, dtype=torch.float64), x, tol=1e-12).passed
    assert default_tolerance(torch.float64) == 1e-12


def test_perturbed_weights_fail() -> None:
    w = construct(8)
    sd, cfg = to_state_dict(w)
    x = np.random.default_rng(5).standard_normal(64)
    assert verify(w, x).passed
    gen = torch.Generator().manual_seed(0)
    sd = dict(
        sd,
        **{
            "cell.weight_hh": sd["cell.weight_hh"]
            * (
                1
                + 1e-6 * torch.randn(sd["cell.weight_hh"].shape, generator=gen, dtype=torch.float64)
            )
        },
    )
    r = verify(from_state_dict(sd, cfg), x)
    assert not r.passed and r.max_error > 1e-12
    assert r.max_error == r.per_window[r.worst_window]
    assert 0 <= r.worst_bin < 8


def test_reference_matches_numpy() -> None:
    x = np.random.default_rng(2).standard_normal(50)
    ref = reference_spectra(x, 8)
    assert ref.shape == (6, 8) and ref.dtype == torch.float64
    np.testing.assert_allclose(ref.numpy(), numpy_spectra(x, 8), rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("window", [1, 0, -3, 2.5, math.nan, "8", True, None])
def test_bad_window(window: object) -> None:
    with pytest.raises(ValueError, match="window"):
        construct(window)  # type: ignore[arg-type]


def test_window_as_integral_float_and_bad_dtype() -> None:
    assert construct(4.0).window == 4
    with pytest.raises(ValueError, match="dtype"):
        construct(4, torch.float16)


@pytest.mark.parametrize(
    ("signal", "match"),
    [
        ([], "empty"),
        (np.zeros((2, 8)), "1-D"),
        ([1.0, math.nan] * 8, "non-finite"),
        ([1.0, math.inf] * 8, "non-finite"),
        ([1.0, 2.0, 3.0], "shorter than one window"),
        (["a", "b"] * 8, "numeric|real"),
        ([1e160] * 8, "overflow float64"),  # finite, but its power spectrum is not (was exit 1/3)
    ],
)
def test_bad_signal(signal: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        verify(construct(4), signal)


def test_bad_state_dict() -> None:
    sd, cfg = to_state_dict(construct(4))
    with pytest.raises(ValueError, match="expected tensors"):
        from_state_dict({k: v for k, v in sd.items() if k != "readout.bias"}, cfg)
    with pytest.raises(ValueError, match="shape"):
        from_state_dict(dict(sd, **{"readout.weight": sd["readout.weight"][:, :-1]}), cfg)
    with pytest.raises(ValueError, match="block"):
        from_state_dict(sd, dict(cfg, blocks={"gen": [0, 99]}))
    with pytest.raises(ValueError, match="lacks"):
        from_state_dict(sd, {"window": 4})
    with pytest.raises(ValueError, match="non-finite"):  # float64 scales do not fit float32
        from_state_dict(sd, cfg, dtype=torch.float32)
    # tampered configs that used to run: a delay of 10^9 steps (hung), float32 tensors in a
    # checkpoint whose config says float64 (ran and failed the check, exit 1)
    with pytest.raises(ValueError, match="at most one window"):
        from_state_dict(sd, dict(cfg, readout_delay=10**9))
    with pytest.raises(ValueError, match="built in float64"):
        from_state_dict({k: v.float() for k, v in sd.items()}, cfg)
    with pytest.raises(ValueError, match="tol"):
        verify(construct(4), np.ones(8), tol=-1.0)
