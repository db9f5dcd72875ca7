"""State-dict (checkpoint tensor) helpers for the spectra-LSTM: exact names, config, validation.

Tensor names: ``cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, readout.weight,
readout.bias``; config: ``window, hidden_size, readout_delay, dtype`` (the dtype the scales were
built for) and ``blocks`` (``{name: [start, stop)}`` for ``gen, sum, prod, spec``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from spectral_cli.spectra_lstm.construct import (
    SpectraLSTMWeights,
    check_window,
    dtype_name,
    resolve_dtype,
)

STATE_DICT_NAMES = (
    "cell.weight_ih",
    "cell.weight_hh",
    "cell.bias_ih",
    "cell.bias_hh",
    "readout.weight",
    "readout.bias",
)
FIELDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "readout_weight", "readout_bias")


def to_state_dict(weights: SpectraLSTMWeights) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors under :data:`STATE_DICT_NAMES` (contiguous, CPU) and the JSON-able config."""
    tensors = {
        name: getattr(weights, field).detach().to("cpu").contiguous()
        for name, field in zip(STATE_DICT_NAMES, FIELDS, strict=True)
    }
    config = {
        "window": weights.window,
        "hidden_size": weights.hidden_size,
        "readout_delay": weights.readout_delay,
        "dtype": weights.built_dtype,
        "blocks": {k: [int(a), int(b)] for k, (a, b) in weights.blocks.items()},
    }
    return tensors, config


def from_state_dict(
    tensors: Mapping[str, torch.Tensor],
    config: Mapping[str, object],
    dtype: torch.dtype | str | None = None,
) -> SpectraLSTMWeights:
    """Rebuild weights from :func:`to_state_dict` output (e.g. a loaded checkpoint).

    ``dtype`` casts the tensors to run in another dtype (``config['dtype']`` stays the build
    dtype).  Raises ``ValueError`` for missing/extra tensors, bad shapes or config, non-finite
    values, or a cast that overflows.
    """
    missing = [
        k for k in ("window", "hidden_size", "readout_delay", "dtype", "blocks") if k not in config
    ]
    if missing:
        raise ValueError(f"spectra-lstm config lacks {missing}")
    T = check_window(config["window"])
    H, d = config["hidden_size"], config["readout_delay"]
    if not (isinstance(H, int) and H > 0 and isinstance(d, int) and 0 <= d <= T):
        raise ValueError(
            f"bad hidden_size/readout_delay in config: {H!r}, {d!r} (the delay is "
            f"at most one window, {T})"
        )
    built = dtype_name(resolve_dtype(str(config["dtype"])))
    names = set(tensors)
    if names != set(STATE_DICT_NAMES):
        raise ValueError(f"expected tensors {sorted(STATE_DICT_NAMES)}, got {sorted(names)}")
    stored = {dtype_name(t.dtype) for t in tensors.values() if t.is_floating_point()}
    if stored and stored != {built}:
        raise ValueError(
            f"tensors are {', '.join(sorted(stored))} but the config says the "
            f"weights were built in {built}"
        )
    shapes = [(4 * H, 1), (4 * H, H), (4 * H,), (4 * H,), (T, H), (T,)]
    for name, shape in zip(STATE_DICT_NAMES, shapes, strict=True):
        if tuple(tensors[name].shape) != shape:
            raise ValueError(f"{name} has shape {tuple(tensors[name].shape)}, expected {shape}")
    run_dt = resolve_dtype(dtype if dtype is not None else tensors["cell.weight_hh"].dtype)
    values = {}
    for name, field in zip(STATE_DICT_NAMES, FIELDS, strict=True):
        t = tensors[name]
        if not t.is_floating_point():
            raise ValueError(f"{name} must be floating point, got {t.dtype}")
        t = t.detach().to(run_dt)
        if not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"{name} has non-finite values in {dtype_name(run_dt)} "
                f"(weights built for {built} do not fit this dtype)"
            )
        values[field] = t
    blocks = _check_blocks(config["blocks"], H)
    return SpectraLSTMWeights.from_tensors(
        values,
        window=T,
        hidden_size=H,
        readout_delay=d,
        blocks=blocks,
        built_dtype=built,
    )


def _check_blocks(blocks: object, H: int) -> dict[str, tuple[int, int]]:
    if not isinstance(blocks, Mapping) or set(blocks) != {"gen", "sum", "prod", "spec"}:
        raise ValueError(f"config blocks must map gen/sum/prod/spec to [start, stop): {blocks!r}")
    out = {}
    for name, rng in blocks.items():
        ok = isinstance(rng, (list, tuple)) and len(rng) == 2
        ok = ok and all(isinstance(v, int) for v in rng) and 0 <= rng[0] <= rng[1] <= H
        if not ok:
            raise ValueError(f"config block {name!r} must be [start, stop) in [0, {H}]: {rng!r}")
        out[str(name)] = (int(rng[0]), int(rng[1]))
    return out
