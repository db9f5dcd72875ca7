"""The MNIST IDX reader on small generated files: plain, gzip, and corrupted ones."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, invoke, read_report

from spectral_cli.core.errors import BadInput
from spectral_cli.hmlp.idx import (
    IDX_DATASETS,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    load_idx_dir,
    load_mnist_dir,
    read_idx,
    write_idx,
)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path: Path, compress: bool, dtype: type) -> None:
    arr = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "a.idx"
    write_idx(path, arr, compress=compress)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == arr.shape and np.array_equal(out, arr)


def test_header_bytes_are_the_standard_ones(tmp_path: Path) -> None:
    write_idx(tmp_path / "i", np.zeros((3, 2, 2), np.uint8))
    write_idx(tmp_path / "l", np.zeros(3, np.uint8))
    assert (tmp_path / "i").read_bytes()[:16] == bytes.fromhex("00000803000000030000000200000002")
    assert (tmp_path / "l").read_bytes()[:8] == bytes.fromhex("0000080100000003")
    assert read_idx(tmp_path / "i", IMAGES_MAGIC).shape == (3, 2, 2)
    assert read_idx(tmp_path / "l", LABELS_MAGIC).shape == (3,)


def make_mnist_dir(
    root: Path, n: int = 60, n_test: int = 20, side: int = 6, gz: bool = False
) -> Path:
    """Four MNIST-style IDX files of ``side x side`` images whose label is coded in the pixels."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n), ("t10k", n_test)):
        y = rng.integers(0, 10, count).astype(np.uint8)
        x = rng.integers(0, 40, (count, side, side)).astype(np.uint8)
        x[np.arange(count), y % side, :] = 255  # a learnable bright row
        suffix = ".gz" if gz else ""
        write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", x, compress=gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", y, compress=gz)
    return root


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_dir_plain_and_gz(tmp_path: Path, gz: bool) -> None:
    arrays = load_mnist_dir(make_mnist_dir(tmp_path / "m", gz=gz))
    assert arrays["x"].shape == (60, 36) and arrays["x_test"].shape == (20, 36)
    assert arrays["x"].dtype == np.float32 and arrays["y"].dtype == np.int64
    assert arrays["x"].max() == 255


def corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    if how == "truncated":
        out = raw[:-5]
    elif how == "trailing":
        out = raw + b"\x00"
    elif how == "foreign":
        out = b"P5\n6 6\n255\n" + raw[16:]  # a PGM image, not IDX
    elif how == "bad-gzip":
        path.write_bytes(data[:2] + b"\x08\x00garbage-not-deflate")
        return
    else:  # header cut inside the dimensions
        out = raw[:10]
    path.write_bytes(gzip.compress(out) if data[:2] == b"\x1f\x8b" else out)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("how", ["truncated", "trailing", "foreign", "header", "bad-gzip"])
def test_corrupted_files_are_bad_input_naming_the_file(tmp_path: Path, gz: bool, how: str) -> None:
    root = make_mnist_dir(tmp_path / "m", gz=gz)
    victim = root / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    corrupt(victim, how)
    with pytest.raises(BadInput) as info:
        load_mnist_dir(root)
    assert str(victim) in str(info.value)


def test_swapped_files_and_mismatched_counts(tmp_path: Path) -> None:
    root = make_mnist_dir(tmp_path / "m")
    images, labels = root / "train-images-idx3-ubyte", root / "train-labels-idx1-ubyte"
    tmp = root / "tmp"
    images.rename(tmp)
    labels.rename(images)
    tmp.rename(labels)
    with pytest.raises(BadInput, match="magic number 0x00000801, expected 0x00000803"):
        load_mnist_dir(root)
    root = make_mnist_dir(tmp_path / "n")
    write_idx(root / "t10k-labels-idx1-ubyte", np.zeros(19, np.uint8))
    with pytest.raises(BadInput, match="19 labels"):
        load_mnist_dir(root)
    (root / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(BadInput, match="t10k-labels-idx1-ubyte"):
        load_mnist_dir(root)


def test_train_hmlp_on_mnist_idx_through_the_cli(runner, tmp_path: Path) -> None:
    root = make_mnist_dir(tmp_path / "m", gz=True)
    out = tmp_path / "run"
    result = invoke(
        runner,
        "train",
        "hmlp",
        "--set",
        "data.name=mnist",
        "--data-dir",
        root,
        "--set",
        "train.epochs=1",
        "--set",
        "model.hidden=[16,8]",
        "--out",
        out,
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["data"]["input_size"] == 36 and report["data"]["n_test"] == 20
    assert "vocab_size" not in report["data"]


def test_mnist_cli_errors_are_one_line_exit_2(runner, tmp_path: Path) -> None:
    result = invoke(
        runner, "train", "hmlp", "--set", "data.name=mnist", "--out", tmp_path / "a", "-q"
    )
    assert_one_line_error(result, 2)
    assert "--data-dir" in result.stderr
    root = make_mnist_dir(tmp_path / "m")
    corrupt(root / "train-images-idx3-ubyte", "truncated")
    result = invoke(
        runner,
        "train",
        "mlp",
        "--set",
        "data.name=mnist",
        "--data-dir",
        root,
        "--out",
        tmp_path / "b",
        "-q",
    )
    assert_one_line_error(result, 2)
    assert "train-images-idx3-ubyte" in result.stderr and "truncated" in result.stderr


def test_dimensions_whose_product_overflows_are_bad_input(tmp_path: Path) -> None:
    import struct

    from spectral_cli.core.errors import BadInput
    from spectral_cli.hmlp.idx import read_idx

    path = tmp_path / "huge-idx3-ubyte"  # 4 x (2**32 - 1) wraps around in int64 arithmetic
    path.write_bytes(bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *[2**32 - 1] * 4) + b"\0" * 16)
    with pytest.raises(BadInput, match="is not a data set this tool reads"):
        read_idx(path)


# ---- the files as people have them (issue #24) ------------------------------------------------
def write_set(folder: Path, gz: bool = False, dotted: bool = False, n: int = 30) -> Path:
    """The four IDX files in ``folder`` under one of their spellings; labels ``0..n-1 mod 10``."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n), ("t10k", n // 3)):
        y = (np.arange(count) % 10).astype(np.uint8)
        x = np.zeros((count, 4, 4), np.uint8) + y[:, None, None]
        for kind, array in (("images-idx3", x), ("labels-idx1", y)):
            name = f"{prefix}-{kind}-ubyte"
            name = name.replace("-idx", ".idx") if dotted else name
            write_idx(folder / (name + (".gz" if gz else "")), array, compress=gz)
    return folder


LAYOUTS = {  # --data-dir relative to the test root -> where the files are
    "flat": ("d", "d"),
    "torchvision root": ("d", "d/{tv}/raw"),
    "torchvision data set folder": ("d/{tv}", "d/{tv}/raw"),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dotted", [False, True])
@pytest.mark.parametrize("name", list(IDX_DATASETS))
def test_every_layout_spelling_and_data_set(
    tmp_path: Path, layout: str, gz: bool, dotted: bool, name: str
) -> None:
    given, files = (tmp_path / p.format(tv=IDX_DATASETS[name]) for p in LAYOUTS[layout])
    write_set(files, gz=gz, dotted=dotted)
    arrays, folder = load_idx_dir(given, name)
    assert folder == files
    assert arrays["x"].shape == (30, 16) and arrays["x_test"].shape == (10, 16)
    assert arrays["y"].tolist() == [i % 10 for i in range(30)]
    assert np.array_equal(arrays["x"][:, 0], arrays["y"].astype(np.float32))


def test_an_incomplete_set_names_the_missing_files(tmp_path: Path) -> None:
    write_set(tmp_path / "d" / "MNIST" / "raw", gz=True)
    (tmp_path / "d" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(BadInput) as info:
        load_idx_dir(tmp_path / "d", "mnist")
    message = str(info.value)
    assert str(tmp_path / "d" / "MNIST" / "raw") in message  # where most of the files are
    assert "lacks t10k-labels-idx1-ubyte[.gz]" in message and "train-images" not in message


def test_another_data_sets_torchvision_folder_is_named(tmp_path: Path) -> None:
    write_set(tmp_path / "d" / "FashionMNIST" / "raw")
    with pytest.raises(BadInput, match="data.name=fashion-mnist"):
        load_idx_dir(tmp_path / "d", "mnist")
    with pytest.raises(BadInput, match="lacks train-images-idx3-ubyte"):
        load_idx_dir(tmp_path / "d", "kmnist")


def test_fashion_mnist_through_the_cli_from_a_torchvision_root(runner, tmp_path: Path) -> None:
    write_set(tmp_path / "root" / "FashionMNIST" / "raw", gz=True, n=60)
    out = tmp_path / "run"
    sets = ["data.name=fashion-mnist", "train.epochs=1", "model.hidden=[8,4]"]
    args = [x for s in sets for x in ("--set", s)]
    result = invoke(runner, "train", "mlp", *args, "--data-dir", tmp_path / "root", "--out", out)
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["data"]["source"].startswith("fashion-mnist (IDX files in ")
    assert report["data"]["source"].endswith("FashionMNIST/raw)")
    assert report["data"]["n_test"] == 20


def test_missing_files_through_the_cli_are_one_line_exit_2(runner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for name in IDX_DATASETS:
        out = tmp_path / f"run-{name}"
        args = ["--set", f"data.name={name}", "--data-dir", tmp_path / "empty", "--out", out]
        result = invoke(runner, "train", "hmlp", *args, "-q")
        assert_one_line_error(result, 2)
        assert f"no complete {name} IDX set" in result.stderr and not out.exists()


REAL_MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"real MNIST not present at {REAL_MNIST}")
def test_the_real_gzip_mnist_files(runner, tmp_path: Path) -> None:
    arrays, folder = load_idx_dir(REAL_MNIST, "mnist")
    assert folder == REAL_MNIST
    assert arrays["x"].shape == (60000, 784) and arrays["x_test"].shape == (10000, 784)
    # the class counts and pixel statistics its README states
    assert np.bincount(arrays["y"]).tolist()[:3] == [5923, 6742, 5958]
    assert np.bincount(arrays["y_test"]).tolist()[-3:] == [1028, 974, 1009]
    pixels = arrays["x"] / 255.0
    assert pixels.mean() == pytest.approx(0.1307, abs=5e-5)  # README: 4 decimals
    assert pixels.std() == pytest.approx(0.3081, abs=5e-5)
    out = tmp_path / "run"
    sets = ["data.name=mnist", "data.limit=2000", "train.epochs=3", "model.hidden=[64,32]"]
    args = [x for s in sets for x in ("--set", s)]
    result = invoke(runner, "train", "hmlp", *args, "--data-dir", REAL_MNIST, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["data"]["n_test"] == 10000 and report["data"]["input_size"] == 784
    # 1,800 training images, 3 epochs: 0.84 / 0.79 at seeds 0 / 1; chance is 0.1
    assert report["metrics"]["test_acc"] > 0.6
