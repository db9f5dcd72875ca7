"""``spectral harmony-score``: every input format, every bad input, --json, the checkpoint path."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, invoke
from safetensors.torch import save_file

from spectral_cli.harmony.measures import harmony_scores
from spectral_cli.harmony.score import score_vectors
from spectral_cli.harmony.vectors import load_vectors

RNG = np.random.default_rng(0)
Z = RNG.standard_normal((5, 16))


def expected(z: np.ndarray, variant: str = "fixed", band: str | None = None) -> np.ndarray:
    s = harmony_scores(torch.from_numpy(np.asarray(z, dtype=np.float64)), variant, band)
    return torch.stack(s, -1).numpy()


def scores_of(result) -> np.ndarray:
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    return np.array([[s["alignment"], s["dissonance"], s["harmony"]] for s in report["scores"]])


def write(path: Path, fmt: str, z: np.ndarray) -> Path:
    if fmt == "json":
        path.write_text(json.dumps(z.tolist()))
    elif fmt == "npy":
        np.save(path, z)
    elif fmt == "safetensors-one":
        save_file({"anything": torch.from_numpy(z)}, str(path))
    else:  # several tensors, one named latents
        save_file({"latents": torch.from_numpy(z), "other": torch.zeros(3)}, str(path))
    return path


@pytest.mark.parametrize("fmt", ["json", "npy", "safetensors-one", "safetensors-latents"])
def test_every_format_scores_every_vector_in_order(runner, tmp_path: Path, fmt: str) -> None:
    suffix = "." + fmt.split("-")[0]
    path = write(tmp_path / f"z{suffix}", fmt, Z)
    got = scores_of(invoke(runner, "harmony-score", "--vectors", path, "--json"))
    np.testing.assert_allclose(got, expected(Z), rtol=1e-12, atol=1e-12)


def test_json_report_has_scores_and_statistics(runner, tmp_path: Path) -> None:
    path = write(tmp_path / "z.npy", "npy", Z)
    result = invoke(
        runner,
        "harmony-score",
        "--vectors",
        path,
        "--json",
        "--variant",
        "original",
        "--critical-band",
        "sethares",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout is the JSON and nothing else
    assert report["command"] == "harmony-score" and report["n_vectors"] == 5
    assert (report["variant"], report["critical_band"]) == ("original", "sethares")
    np.testing.assert_allclose(scores_of(result), expected(Z, "original", "sethares"), rtol=1e-12)
    h = np.array([s["harmony"] for s in report["scores"]])
    assert report["statistics"]["harmony"]["mean"] == pytest.approx(h.mean())
    assert report["statistics"]["dissonance"]["max"] >= report["statistics"]["dissonance"]["min"]


def test_plain_output_and_out_dir(runner, tmp_path: Path) -> None:
    path = write(tmp_path / "z.json", "json", Z)
    result = invoke(runner, "harmony-score", "--vectors", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "5 vectors of length 16" in result.stdout
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert len(saved["scores"]) == 5


def test_flat_json_list_and_3d_array_and_integers(tmp_path: Path) -> None:
    flat = tmp_path / "flat.json"
    flat.write_text("[0, 1, 2, 0.5]")
    assert load_vectors(flat).shape == (1, 4)
    cube = tmp_path / "cube.npy"
    np.save(cube, np.arange(24).reshape(2, 3, 4))
    arr = load_vectors(cube)
    assert arr.shape == (6, 4) and arr.dtype == np.float64
    np.testing.assert_array_equal(arr[1], [4, 5, 6, 7])


def test_thousand_vectors_score_well_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, RNG.standard_normal((1000, 64)).astype(np.float32))
    score_vectors(path)  # warm-up
    start = time.perf_counter()
    report = score_vectors(path)
    assert time.perf_counter() - start < 1.0
    assert len(report.scores) == 1000


BAD_JSON = {
    "ragged.json": "[[1, 2, 3], [1, 2]]",
    "text.json": '[[1, "a"], [2, 3]]',
    "bool.json": "[[1, true], [2, 3]]",
    "nan.json": "[[1, NaN], [2, 3]]",
    "inf.json": "[[1, Infinity], [2, 3]]",
    "empty.json": "[]",
    "empty_rows.json": "[[], []]",
    "object.json": '{"latents": [[1, 2]]}',
    "mixed.json": "[[1, 2], 3]",
    "broken.json": "[[1, 2",
}


@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_bad_json_inputs_exit_2_one_line(runner, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(BAD_JSON[name])
    assert_one_line_error(invoke(runner, "harmony-score", "--vectors", path))


def test_bad_array_inputs_exit_2_one_line(runner, tmp_path: Path) -> None:
    cases = {
        "nan.npy": np.array([[1.0, np.nan]]),
        "inf.npy": np.array([[1.0, np.inf]]),
        "empty.npy": np.zeros((0, 4)),
        "strings.npy": np.array([["a", "b"]]),
        "complex.npy": np.array([[1 + 1j, 2]]),
        "bools.npy": np.array([[True, False]]),
    }
    for name, arr in cases.items():
        np.save(tmp_path / name, arr)
    (tmp_path / "pickled.npy").write_bytes(b"not an npy file at all")
    save_file({"a": torch.zeros(2, 3), "b": torch.zeros(2, 3)}, str(tmp_path / "two.safetensors"))
    save_file({"latents": torch.tensor([[1.0, float("nan")]])}, str(tmp_path / "nan.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 16)
    (tmp_path / "z.csv").write_text("1,2\n")
    names = [
        *cases,
        "pickled.npy",
        "two.safetensors",
        "nan.safetensors",
        "junk.safetensors",
        "z.csv",
        "missing.npy",
    ]
    for name in names:
        assert_one_line_error(invoke(runner, "harmony-score", "--vectors", tmp_path / name))


def test_option_errors_exit_2(runner, tmp_path: Path) -> None:
    path = write(tmp_path / "z.npy", "npy", Z)
    assert_one_line_error(invoke(runner, "harmony-score"))
    assert_one_line_error(invoke(runner, "harmony-score", "--vectors", path, "--variant", "x"))
    assert_one_line_error(
        invoke(runner, "harmony-score", "--vectors", path, "--critical-band", "bark")
    )
    assert_one_line_error(invoke(runner, "harmony-score", "--vectors", path, "--checkpoint", path))


def test_checkpoint_that_is_not_an_hae_is_refused(runner, tmp_path: Path) -> None:
    from spectral_cli.core.checkpoint import model_metadata, save_tensors

    foreign = tmp_path / "model.safetensors"
    save_tensors(foreign, {"w": torch.zeros(2)}, model_metadata("hpe", {"family": "hpe"}))
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    broken = tmp_path / "broken.safetensors"  # says hae, but the weights are not an HAE's
    save_tensors(
        broken,
        {"w": torch.zeros(2)},
        model_metadata("hae", {"family": "hae"}, data_info={"signal_length": 40}),
    )
    for path in (foreign, plain, broken, tmp_path / "missing.safetensors"):
        result = invoke(runner, "harmony-score", "--checkpoint", path, "--out", tmp_path / "o")
        assert_one_line_error(result)
    assert not (tmp_path / "o").exists()  # nothing written for a refused checkpoint
