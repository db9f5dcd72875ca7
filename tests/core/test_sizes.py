"""The one size rule (core.limits): sizes from settings, checkpoint metadata and array headers
are checked before anything is allocated; exit 2 with a line naming the limit, nothing created."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, invoke
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from spectral_cli.core.errors import BadInput
from spectral_cli.core.limits import MAX_ELEMENTS, model_elements
from spectral_cli.core.registry import family_names, get_family
from spectral_cli.core.resolve import resolve_train_config

LIMIT = f"the limit is {MAX_ELEMENTS:,}"


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """A valid .npy header claiming ``shape`` (followed by no data)."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return out.getvalue()  # the writer puts the magic string first


def npz_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_npy_whose_header_claims_a_huge_shape_is_refused_before_reading(
    runner, tmp_path: Path, trained_run
) -> None:
    run = trained_run(family_names()[0]).out
    claims = tmp_path / "claims.npy"
    claims.write_bytes(npy_header((10**9, 40)) + b"\0" * 64)
    # a deflated member of 10^9 float64 zeros is ~8 MB on disk; its header alone is refused
    bomb = npz_with(tmp_path / "bomb.npz", {"x.npy": npy_header((10**9,)) + b"\0" * 4096})
    for path in (claims, bomb):
        result = invoke(runner, "predict", run, "--input", path, "--out", tmp_path / "p.npz")
        assert_one_line_error(result, 2)
        assert LIMIT in result.stderr, result.stderr
        assert not (tmp_path / "p.npz").exists()


def test_npz_member_that_is_not_npy_is_exit_2_everywhere(
    runner, tmp_path: Path, trained_run
) -> None:
    """data.path, predict --input, ntk --task and harmony-score --data: exit 3 before."""
    members = {k: b"not an array" for k in ("x", "y", "x_test", "y_test", "x_train", "y_train")}
    bad = npz_with(tmp_path / "bad.npz", members)
    family = family_names()[0]
    hae = next(f for f in family_names() if get_family(f).export.kind == "autoencoder")
    commands = [
        ["train", family, "--set", f"data.path={bad}", "--out", tmp_path / "t"],
        ["predict", trained_run(family).out, "--input", bad, "--out", tmp_path / "p.npz"],
        ["ntk", "--task", bad, "--out", tmp_path / "n"],
        ["harmony-score", "--checkpoint", trained_run(hae).out / "model.safetensors"]
        + ["--data", bad, "--out", tmp_path / "h"],
    ]
    for args in commands:
        result = invoke(runner, *args)
        assert_one_line_error(result, 2)
        assert "is not a .npy array" in result.stderr, (args, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]


def test_predict_input_fifo_is_named_as_a_fifo(runner, tmp_path: Path, trained_run) -> None:
    import os

    fifo = tmp_path / "in.npy"
    os.mkfifo(fifo)
    run = trained_run(family_names()[0]).out
    result = invoke(runner, "predict", run, "--input", fifo, "--out", tmp_path / "p.npz")
    assert_one_line_error(result, 2)
    assert "is a FIFO" in result.stderr


@pytest.mark.parametrize("family", family_names())
def test_a_model_beyond_the_rule_is_refused_by_print_config(runner, family: str) -> None:
    """The widest size key of each family's model, set so that the model passes 2^28 numbers;
    counted on the meta device (before: built, taking gigabytes and minutes)."""
    cfg = resolve_train_config(family, None, [])
    info = get_family(family).data(cfg).info
    if model_elements(lambda: get_family(family).build(cfg, info)) is None:
        pytest.skip(f"{family}'s builder computes with values; its schema bounds its size")
    wide = {"d_model": 2**16, "hidden": 2**20}
    model = cfg.model.model_dump()
    key, value = next((k, v) for k, v in wide.items() if k in model)
    value = [value, value] if isinstance(model[key], list | tuple) else value
    sets = ["--set", f"model.{key}={json.dumps(value, separators=(',', ':'))}"]
    if key == "d_model":
        sets += ["--set", "model.n_heads=1"]
    result = invoke(runner, "train", family, *sets, "--print-config")
    assert_one_line_error(result, 2)
    assert LIMIT in result.stderr and "model of these settings" in result.stderr


def test_hae_n_pairs_is_checked_before_the_run_starts(runner, tmp_path: Path) -> None:
    hae = next(
        f
        for f in family_names()
        if "n_pairs" in get_family(f).config.model_fields["data"].annotation.model_fields
    )
    out = tmp_path / "run"
    result = invoke(runner, "train", hae, "--set", "data.n_pairs=100000000", "--out", out)
    assert_one_line_error(result, 2)
    assert "data.n_pairs=100,000,000" in result.stderr and LIMIT in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("family", family_names())
def test_predict_refuses_metadata_that_describe_a_huge_model(
    runner, tmp_path: Path, trained_run, family: str
) -> None:
    """Every size in spectral.data_info set to 10^9: counted before the tensors are loaded or
    the model built (before: gigabytes allocated, then exit 2 or 3)."""
    src = trained_run(family).out / "model.safetensors"
    with safe_open(str(src), "pt") as fh:
        meta = dict(fh.metadata())
    info = json.loads(meta.get("spectral.data_info", "{}"))
    sizes = {k: 10**9 for k, v in info.items() if isinstance(v, int) and k != "num_classes"}
    cfg = resolve_train_config(family, None, [])
    if (
        not sizes
        or model_elements(lambda: get_family(family).build(cfg, get_family(family).data(cfg).info))
        is None
    ):
        pytest.skip(f"{family}: no size in its data info, or not countable on the meta device")
    meta["spectral.data_info"] = json.dumps({**info, **sizes})
    tampered = tmp_path / "m.safetensors"
    save_file(load_file(str(src)), str(tampered), metadata=meta)
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 3), dtype=np.float32))
    result = invoke(runner, "predict", tampered, "--input", x, "--out", tmp_path / "p.npz")
    assert_one_line_error(result, 2)
    assert LIMIT in result.stderr, result.stderr


def test_load_numpy_checks_the_total_of_an_npz(tmp_path: Path) -> None:
    from spectral_cli.core.arrays import load_numpy

    half = MAX_ELEMENTS // 2 + 1
    path = npz_with(
        tmp_path / "two.npz",
        {
            "a.npy": npy_header((half,), "|i1") + b"\0" * half,
            "b.npy": npy_header((half,), "|i1") + b"\0" * half,
        },
    )
    loaded = load_numpy(path, "two.npz")
    assert not isinstance(loaded, np.ndarray)
    with loaded as npz:
        assert npz["a"].shape == (half,)
        with pytest.raises(BadInput, match="two.npz would hold"):
            npz["b"]
