"""``spectral export --format safetensors --dtype float16|bfloat16``: a half-precision re-save.

Every floating tensor is rounded to the dtype (integer tensors are kept); the metadata is the
source's, so the file stays a checkpoint of the same family. A value beyond the dtype's range
(float16 holds up to 65504; the spectra-lstm construction's scales reach 1e21) is refused with
exit 2 rather than stored as infinity. The half model runs in that dtype (its floating inputs are
cast on entry); the report gives the output parity with the source and the change of the family's
test metrics (accuracy in points, nMSE, ...) on the whole test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from spectral_cli.core.checkpoint import save_tensors
from spectral_cli.core.errors import BadInput
from spectral_cli.export.parity import Parity, compare, parity_inputs
from spectral_cli.export.source import Loaded, load, run_torch
from spectral_cli.export.specs import DTYPES

EVAL_BATCH = 1024


def cast_state(
    state: dict[str, Tensor], dtype: torch.dtype, path: Path
) -> tuple[dict[str, Tensor], int]:
    """Floating tensors rounded to ``dtype``; (tensors, entries that underflowed to zero)."""
    out, underflow = {}, 0
    for name, t in state.items():
        if not t.is_floating_point():
            out[name] = t
            continue
        c = t.to(dtype)
        if bool(torch.isfinite(t).all()) and not bool(torch.isfinite(c).all()):
            hint = "; try --dtype bfloat16" if dtype == torch.float16 else ""
            raise BadInput(
                f"{path}: tensor {name!r} holds values up to {float(t.abs().max()):.3g}, beyond "
                f"{str(dtype).removeprefix('torch.')}'s range ({torch.finfo(dtype).max:.3g})"
                f"{hint}"
            )
        underflow += int(((c == 0) & (t != 0)).sum())
        out[name] = c
    return out, underflow


def family_test_metrics(loaded: Loaded) -> dict[str, float | None]:
    """The family's own metrics of the model, restricted to the test split."""
    from spectral_cli.core.pipeline import final_metrics

    metrics = final_metrics(loaded.family, loaded.model, loaded.cfg, loaded.data(), loaded.device)
    return {k: v for k, v in metrics.items() if k.startswith("test_")}


def metric_change(
    before: dict[str, float | None], after: dict[str, float | None]
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k, was in before.items():
        now = after.get(k)
        out[k] = None if was is None or now is None else float(now) - float(was)
    return out


def export_half(
    loaded: Loaded, target: Path, dtype_name: str, tol: float, seed: int
) -> tuple[Parity, dict[str, Any]]:
    """Write the half-precision checkpoint to ``target``; parity and metric change."""
    dtype = DTYPES[dtype_name]
    if loaded.dtype == dtype:
        raise BadInput(f"{loaded.path} is already {dtype_name}")
    state = {k: v.detach().cpu() for k, v in loaded.model.state_dict().items()}
    half_state, underflow = cast_state(state, dtype, loaded.path)
    meta = dict(loaded.meta)
    meta["spectral.dtype"] = dtype_name
    save_tensors(target, half_state, meta)
    half = load(target, loaded.device)  # exactly what predict and export will load
    half.share_data(loaded)
    cases = parity_inputs(loaded, seed)
    parity = compare(
        cases,
        lambda x: run_torch(loaded.model, x, EVAL_BATCH, loaded.device),
        lambda x: run_torch(half.model, x, EVAL_BATCH, loaded.device),
        tol,
        f"{loaded.checkpoint_family} {str(loaded.dtype).removeprefix('torch.')}",
        f"{loaded.checkpoint_family} {dtype_name}",
    )
    before, after = family_test_metrics(loaded), family_test_metrics(half)
    change = metric_change(before, after)
    name = loaded.family.test.name
    delta = change.get(name)
    shown = (
        "n/a"
        if delta is None
        else (f"{delta * 100:+.2f} points" if name.endswith("_acc") else f"{delta:+.3g}")
    )
    return parity, {
        "dtype": dtype_name,
        "test_metric": name,
        "metrics_before": before,
        "metrics_after": after,
        "metrics_change": change,
        "underflow_to_zero": underflow,
        "summary": f"{dtype_name}, {name.replace('_', ' ')} {_num(before.get(name))} -> "
        f"{_num(after.get(name))} ({shown})",
    }


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
