"""The CUDA paths, end to end. Skipped without a GPU; run on a GPU machine with
``python -m pytest -q tests/gpu`` (also part of the default run, where it skips).

Each training family trains one epoch on ``--device cuda`` with and without ``train.amp``
(bfloat16 autocast; float16 with a GradScaler), resumes after an interrupt, and the other
subcommands run on the GPU: verify-lstm in float64 and float32, the empirical NTK at N = 4096,
harmony-score on a trained autoencoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import StopAfter, invoke

from spectral_cli.core.registry import family_names, get_family

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def smoke(family: str, *extra: str) -> list[str]:
    sets = [*get_family(family).smoke, *extra]
    if get_family(family).unit == "epochs":
        sets.append("train.epochs=1")
    return [a for s in sets for a in ("--set", s)]


@pytest.mark.parametrize("amp", ["false", "true", "float16"])
@pytest.mark.parametrize("family", family_names())
def test_every_family_trains_on_cuda(runner, tmp_path: Path, family: str, amp: str) -> None:
    extra = [] if amp == "false" else ["train.amp=true"]
    if amp == "float16":
        extra.append("train.amp_dtype=float16")
    if get_family(family).name == "spectra-lstm" and extra:
        pytest.skip("spectra-lstm trains in float64/float32 by design (model.dtype); no amp")
    out = tmp_path / "run"
    result = invoke(
        runner,
        "train",
        family,
        *smoke(family, *extra),
        "--device",
        "cuda",
        "--out",
        out,
        "--json",
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["device"].startswith("cuda")
    assert all(v is None or np.isfinite(v) for v in report["metrics"].values())


@pytest.mark.parametrize("family", ["hpe", "hmlp"])
def test_resume_on_cuda_continues_the_run(tmp_path: Path, family: str) -> None:
    from spectral_cli.core.errors import Interrupted
    from spectral_cli.core.pipeline import run_experiment
    from spectral_cli.core.resolve import resolve_train_config
    from spectral_cli.core.signals import StopFlag

    cfg = resolve_train_config(family, None, [*get_family(family).smoke, "train.epochs=3"])
    dev = torch.device("cuda")
    full = run_experiment(cfg, tmp_path / "full", dev)
    flag = StopFlag()
    with pytest.raises(Interrupted):
        run_experiment(cfg, tmp_path / "cut", dev, observer=StopAfter(flag, 4), stop=flag)
    resumed = run_experiment(cfg, tmp_path / "cut", dev, resume=True)
    assert len(resumed.history) == len(full.history) == 3
    # cuDNN/cuBLAS kernels are not bit-reproducible by default: agree to float32 rounding
    for a, b in zip(full.history, resumed.history, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_verify_lstm_on_cuda(runner, tmp_path: Path, dtype: str) -> None:
    result = invoke(
        runner,
        "verify-lstm",
        "--device",
        "cuda",
        "--dtype",
        dtype,
        "--window",
        "16",
        "--out",
        tmp_path / dtype,
        "--no-plots",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passed"]


def test_empirical_ntk_at_4096_points_on_cuda(runner, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4096 + 256, 2))
    y = np.sin(8 * x[:, 0]) * np.cos(3 * x[:, 1])
    task = tmp_path / "task.npz"
    np.savez(task, x_train=x[:4096], y_train=y[:4096], x_test=x[4096:], y_test=y[4096:])
    result = invoke(
        runner,
        "ntk",
        "--kernel",
        "empirical",
        "--task",
        task,
        "--encoding",
        "none",
        "--width",
        "512",
        "--device",
        "cuda",
        "--out",
        tmp_path / "ntk",
        "--json",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["device"].startswith("cuda")


def test_harmony_score_on_cuda(runner, tmp_path: Path) -> None:
    train = invoke(
        runner, "train", "hae", *smoke("hae"), "--device", "cuda", "--out", tmp_path / "hae", "-q"
    )
    assert train.exit_code == 0, train.output
    result = invoke(
        runner,
        "harmony-score",
        "--checkpoint",
        tmp_path / "hae" / "model.safetensors",
        "--device",
        "cuda",
        "--out",
        tmp_path / "score",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert 0.0 <= json.loads(result.stdout)["auroc"] <= 1.0
