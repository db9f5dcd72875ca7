"""The MNIST-1D cache: it lives in ``$SPECTRAL_CACHE_DIR``, and a cache file that cannot be read
is regenerated and replaced atomically instead of failing every command until deleted by hand."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY, invoke

from spectral_cli.core.datasets import mnist1d
from spectral_cli.core.datasets.mnist1d import CACHE_VERSION, load_mnist1d

CACHE_NAME = f"mnist1d-default-{CACHE_VERSION}.npz"


@pytest.fixture(scope="module")
def real() -> dict[str, np.ndarray]:
    """The default arrays (from the default cache, or generated once)."""
    return {k: v.copy() for k, v in load_mnist1d().items()}


@pytest.fixture
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``$SPECTRAL_CACHE_DIR`` pointed at an empty directory, the in-memory cache cleared; it is
    cleared again afterwards so later tests load from the default cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SPECTRAL_CACHE_DIR", str(cache))
    load_mnist1d.cache_clear()
    yield cache
    load_mnist1d.cache_clear()


@pytest.fixture
def generations(real, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the generator, which returns the real arrays without the few seconds."""
    calls: list[int] = []

    def generate() -> dict[str, np.ndarray]:
        calls.append(1)
        return {k: v.copy() for k, v in real.items()}

    monkeypatch.setattr(mnist1d, "generate", generate)
    return calls


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_cache_is_written_to_spectral_cache_dir(cache_in: Path, real, monkeypatch) -> None:
    np.random.seed(7)
    random.seed(7)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    data = load_mnist1d()  # generated for real: nothing cached in this directory yet
    assert_same(data, real)  # the generator is seeded: the same arrays everywhere
    assert np.array_equal(np.random.get_state()[1], before_np) and random.getstate() == before_py
    assert [p.name for p in cache_in.iterdir()] == [CACHE_NAME]
    with np.load(cache_in / CACHE_NAME, allow_pickle=False) as npz:
        assert_same({k: npz[k] for k in npz.files}, real)

    def no_generation() -> None:
        raise AssertionError("the cache in $SPECTRAL_CACHE_DIR was not used")

    monkeypatch.setattr(mnist1d, "generate", no_generation)
    load_mnist1d.cache_clear()
    assert_same(load_mnist1d(), real)  # read back from $SPECTRAL_CACHE_DIR


def corrupt_bytes(kind: str, real: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **real)
    good = buf.getvalue()
    if kind == "empty":
        return b""
    if kind == "truncated-half":
        return good[: len(good) // 2]
    if kind == "truncated-tail":
        return good[:-10]
    if kind == "garbage":
        return b"not a zip file at all" * 100
    other = io.BytesIO()
    if kind == "wrong-arrays":
        np.savez(other, a=np.zeros(3))
    elif kind == "wrong-shapes":
        np.savez(other, **{k: v[:10] for k, v in real.items()})
    elif kind == "label-99999":  # built a 100,000-class head
        np.savez(other, **{**real, "y": np.where(np.arange(4000) == 0, 99_999, real["y"])})
    elif kind == "float-labels":
        np.savez(other, **{**real, "y_test": real["y_test"].astype(np.float64)})
    elif kind == "bad-member":  # a zip whose x.npy is not an array file
        with zipfile.ZipFile(other, "w") as zf:
            for k in real:
                zf.writestr(f"{k}.npy", b"\x93NUMPY garbage")
    return other.getvalue()


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "truncated-half",
        "truncated-tail",
        "garbage",
        "wrong-arrays",
        "wrong-shapes",
        "label-99999",
        "float-labels",
        "bad-member",
    ],
)
def test_a_corrupt_cache_file_is_regenerated_atomically(
    cache_in: Path, generations: list[int], real, kind: str
) -> None:
    cache_in.mkdir()
    (cache_in / CACHE_NAME).write_bytes(corrupt_bytes(kind, real))
    assert_same(load_mnist1d(), real)
    assert generations == [1]
    # replaced by a valid file, no temporary left behind
    assert [p.name for p in cache_in.iterdir()] == [CACHE_NAME]
    with np.load(cache_in / CACHE_NAME, allow_pickle=False) as npz:
        assert_same({k: npz[k] for k in npz.files}, real)
    load_mnist1d.cache_clear()
    assert_same(load_mnist1d(), real)
    assert generations == [1]  # the repaired file is used from now on


def test_a_truncated_cache_does_not_fail_a_command(
    runner, cache_in: Path, generations: list[int], real, tmp_path: Path
) -> None:
    """It used to be exit 3 (``BadZipFile``) for every command until deleted by hand."""
    cache_in.mkdir()
    (cache_in / CACHE_NAME).write_bytes(corrupt_bytes("truncated-half", real))
    out = tmp_path / "run"
    result = invoke(runner, "train", "standard", *TINY, "--device", "cpu", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert generations == [1] and (out / "report.json").is_file()
    with np.load(cache_in / CACHE_NAME, allow_pickle=False) as npz:
        assert_same({k: npz[k] for k in npz.files}, real)
