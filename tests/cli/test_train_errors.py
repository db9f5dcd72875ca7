"""Bad input -> exit 2 with one ``error:`` line and nothing on disk damaged; NaN -> exit 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, assert_one_line_error, copy_run, invoke, snapshot
from safetensors.torch import load_file


@pytest.fixture
def existing_run(trained_run, tmp_path: Path) -> Path:
    """A private copy of the shared hpe smoke run (TINY)."""
    return copy_run(trained_run("hpe"), tmp_path / "existing")


def test_bad_inputs_leave_an_existing_run_untouched(
    runner, tmp_path: Path, existing_run: Path
) -> None:
    before = snapshot(existing_run)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("train: {lr: [\n")
    not_npz = tmp_path / "data.npz"
    not_npz.write_text("hello")
    wrong_arrays = tmp_path / "wrong.npz"
    np.savez(wrong_arrays, a=np.zeros(3))
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((4, 3)))
    cases = [
        ["train", "nosuch", "--out", existing_run, "--overwrite"],
        ["train", "hpe", "--set", "nosuch.key=1", "--out", existing_run, "--overwrite"],
        ["train", "hpe", "--set", "train.epochs=two", "--out", existing_run, "--overwrite"],
        ["train", "hpe", "--set", "model.k=0", "--out", existing_run, "--overwrite"],
        [
            "train",
            "hpe",
            "--config",
            tmp_path / "missing.yaml",
            "--out",
            existing_run,
            "--overwrite",
        ],
        ["train", "hpe", "--config", bad_yaml, "--out", existing_run, "--overwrite"],
        [
            "train",
            "hpe",
            "--set",
            f"data.path={tmp_path / 'none.npz'}",
            "--out",
            existing_run,
            "--overwrite",
        ],
        ["train", "hpe", "--set", f"data.path={not_npz}", "--out", existing_run, "--overwrite"],
        [
            "train",
            "hpe",
            "--set",
            f"data.path={wrong_arrays}",
            "--out",
            existing_run,
            "--overwrite",
        ],
        ["train", "hpe", "--out", existing_run],  # non-empty without --overwrite/--resume
        ["train", "hpe", "--out", existing_run, "--overwrite", "--resume"],
        ["train", "standard", "--out", existing_run, "--resume"],  # another family's run
        ["train", "hpe", "--out", existing_run, "--resume", "--set", "train.lr=0.5"],
        ["train", "hpe", "--device", "cuda:7", "--out", existing_run, "--overwrite"],
    ]
    if not torch.cuda.is_available():
        cases.append(["train", "hpe", "--device", "cuda", "--out", existing_run, "--overwrite"])
    for args in cases:
        result = invoke(runner, *args, "-q")
        assert_one_line_error(result, 2)
        assert snapshot(existing_run) == before, args


def test_resume_without_state_is_refused(runner, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(runner, "train", "hpe", "--out", empty, "--resume", "-q")
    assert_one_line_error(result, 2)
    assert "nothing to resume" in result.stderr
    assert_one_line_error(invoke(runner, "train", "hpe", "--resume", "-q"), 2)


def test_overwrite_starts_from_a_fresh_state(runner, tmp_path: Path, existing_run: Path) -> None:
    """A failing --overwrite run must not leave the old run's state as 'the last good one'."""
    result = invoke(
        runner,
        "train",
        "hpe",
        "--set",
        "train.lr=1e30",
        "--set",
        "data.limit=200",
        "--set",
        "train.epochs=3",
        "--out",
        existing_run,
        "--overwrite",
        "-q",
    )
    assert_one_line_error(result, 3)
    assert not (existing_run / "report.json").exists()  # the old run's report is not left behind
    state = load_file(str(existing_run / "state.safetensors"))
    from safetensors import safe_open

    with safe_open(str(existing_run / "state.safetensors"), framework="pt") as fh:
        assert '"lr": 1e+30' in fh.metadata()["spectral.config"]
    assert all(torch.isfinite(v).all() for k, v in state.items() if k.startswith("model."))


def test_corrupt_state_metadata_is_bad_input(runner, tmp_path: Path, existing_run: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    # an interrupted run (no report yet): --resume must read the state (a finished run's resume
    # changes nothing and reads none)
    (existing_run / "report.json").unlink()
    path = existing_run / "state.safetensors"
    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
    tensors = load_file(str(path))
    del tensors["rng.torch"]
    save_file(tensors, str(path), metadata=meta)
    # a finished run's resume reads no state (it changes nothing): extend it, so it must
    longer = ["--set", "train.epochs=50"]
    assert_one_line_error(
        invoke(runner, "train", "hpe", "--out", existing_run, "--resume", *longer, "-q"), 2
    )
    meta["spectral.config"] = "[not json"
    save_file(tensors, str(path), metadata=meta)
    assert_one_line_error(
        invoke(runner, "train", "hpe", "--out", existing_run, "--resume", "-q"), 2
    )


def test_bad_data_leaves_no_empty_run_directory(runner, tmp_path: Path) -> None:
    out = tmp_path / "new-run"
    result = invoke(
        runner, "train", "hpe", "--set", f"data.path={tmp_path / 'none.npz'}", "--out", out, "-q"
    )
    assert_one_line_error(result, 2)
    assert not out.exists()


def test_out_that_is_a_file_is_refused(runner, tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    assert_one_line_error(invoke(runner, "train", "hpe", *TINY, "--out", target, "-q"), 2)
    assert target.read_text() == "keep me"


def test_nan_loss_exits_3_and_keeps_the_last_good_checkpoint(runner, tmp_path: Path) -> None:
    out = tmp_path / "nan"
    # lr=1e30 makes Adam's first update blow the weights up; the loss of the next epoch is NaN
    result = invoke(
        runner,
        "train",
        "standard",
        "--set",
        "train.lr=1e30",
        "--set",
        "data.limit=200",
        "--set",
        "train.epochs=3",
        "--out",
        out,
        "-q",
    )
    assert_one_line_error(result, 3)
    assert "loss became nan" in result.stderr
    state = load_file(str(out / "state.safetensors"))
    assert all(torch.isfinite(v).all() for k, v in state.items() if k.startswith("model."))
    assert (out / "model.safetensors").is_file()
