"""The spectra-lstm family's data: sums of random sines and their windowed power spectra."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from spectral_cli.spectra_lstm import reference
from spectral_cli.spectra_lstm.config import SpectraLSTMRunConfig
from spectral_cli.spectra_lstm.signals import sine_batch, sine_bound


@dataclass
class Split:
    x: Tensor  # [n, windows * T]
    y: Tensor  # [n, windows, T] power spectra (float64 FFT)

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class SpectraInfo:
    window: int
    dtype: str
    input_bound: float
    loss_normalizer: float  # mean(P^2) over the training targets


@dataclass
class SpectraData:
    train: Split
    val: Split
    test: Split
    verify_x: Tensor
    info: SpectraInfo

    def summary(self) -> dict[str, object]:
        return {
            "source": "sums of random sines",
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
            "window": self.info.window,
            "input_bound": self.info.input_bound,
            "loss_normalizer": self.info.loss_normalizer,
        }


def make_split(cfg: SpectraLSTMRunConfig, count: int, seed: int, dtype: torch.dtype) -> Split:
    T, d = cfg.model.window, cfg.data
    x = sine_batch(count, d.windows * T, T, d.n_sines, seed)
    return Split(x.to(dtype), reference.reference_spectra(x, T).to(dtype))


def load_data(cfg: SpectraLSTMRunConfig) -> SpectraData:
    """Fixed train/val/test signals seeded from the run seed (independent of the models)."""
    dt = reference.resolve_dtype(cfg.model.dtype)
    T = cfg.model.window
    train = make_split(cfg, cfg.train.eval_every * cfg.train.batch_size, cfg.seed, dt)
    val = make_split(cfg, cfg.data.n_val, 10_000 + cfg.seed, dt)
    test = make_split(cfg, cfg.data.n_test, 20_000 + cfg.seed, dt)
    norm = float(train.y.double().square().mean())
    verify_x = sine_batch(1, cfg.data.verify_windows * T, T, cfg.data.n_sines, 30_000 + cfg.seed)[0]
    info = SpectraInfo(T, cfg.model.dtype, sine_bound(cfg.data.n_sines, T), norm)
    return SpectraData(train, val, test, verify_x, info)
