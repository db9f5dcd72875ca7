"""Data: embedded MNIST-1D, quantization, the seeded split and the .npz loader."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from spectral_cli.core.datasets.mnist1d import load_mnist1d
from spectral_cli.core.datasets.npz import load_npz
from spectral_cli.core.datasets.splits import split_indices
from spectral_cli.core.errors import BadInput
from spectral_cli.core.schema import DataConfig
from spectral_cli.embeddings.quantize import bin_centers, quantize
from spectral_cli.embeddings.tokens import load_token_data


def test_mnist1d_is_generated_offline_with_the_expected_shapes() -> None:
    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    data = load_mnist1d()
    assert data["x"].shape == (4000, 40) and data["x_test"].shape == (1000, 40)
    assert set(np.unique(data["y"])) == set(range(10))
    # the generator reseeds global RNGs; we must leave them as they were
    assert np.array_equal(np.random.get_state()[1], before_np) and random.getstate() == before_py


def test_quantization_bins() -> None:
    x = np.array([-100.0, -5.0, -5.0 + 10 / 256 - 1e-9, -5.0 + 10 / 256, 0.0, 4.99, 5.0, 100.0])
    assert quantize(x).tolist() == [0, 0, 0, 1, 128, 255, 255, 255]
    centers = bin_centers()
    assert np.array_equal(quantize(centers), np.arange(256))


def test_split_is_seeded_disjoint_and_ten_percent() -> None:
    train, val = split_indices(4000, 0.1, seed=0)
    assert len(val) == 400 and len(train) == 3600
    assert not set(train) & set(val)
    again, _ = split_indices(4000, 0.1, seed=0)
    other, _ = split_indices(4000, 0.1, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_token_data_default_and_limit() -> None:
    full = load_token_data(DataConfig())
    assert (len(full.train), len(full.val), len(full.test)) == (3600, 400, 1000)
    assert full.train.x.dtype.is_floating_point is False
    assert int(full.train.x.max()) <= 255 and int(full.train.x.min()) >= 0
    assert (full.seq_len, full.num_classes, full.vocab_size) == (40, 10, 256)
    small = load_token_data(DataConfig(limit=200))
    assert (len(small.train), len(small.val)) == (180, 20)


def test_npz_loader_accepts_valid_files(npz_data: Path) -> None:
    data = load_token_data(DataConfig(path=npz_data))
    assert data.seq_len == 24 and data.num_classes == 3
    assert len(data.train) + len(data.val) == 120


def test_npz_loader_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        load_npz(tmp_path / "none.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(BadInput, match="not a readable .npz"):
        load_npz(junk)
    cases = {
        "missing": dict(x=np.zeros((4, 3)), y=np.zeros(4, int)),
        "ragged": dict(
            x=np.zeros((4, 3)), y=np.zeros(5, int), x_test=np.zeros((2, 3)), y_test=np.zeros(2, int)
        ),
        "nan": dict(
            x=np.full((4, 3), np.nan),
            y=np.zeros(4, int),
            x_test=np.zeros((2, 3)),
            y_test=np.zeros(2, int),
        ),
        "float_labels": dict(
            x=np.zeros((4, 3)), y=np.zeros(4), x_test=np.zeros((2, 3)), y_test=np.zeros(2)
        ),
        "lengths": dict(
            x=np.zeros((4, 3)), y=np.zeros(4, int), x_test=np.zeros((2, 5)), y_test=np.zeros(2, int)
        ),
        "one_d": dict(
            x=np.zeros(4), y=np.zeros(4, int), x_test=np.zeros((2, 5)), y_test=np.zeros(2, int)
        ),
    }
    for name, arrays in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        with pytest.raises(BadInput) as info:
            load_npz(path)
        assert str(path) in str(info.value), name
