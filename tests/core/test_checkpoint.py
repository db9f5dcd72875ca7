"""Safetensors checkpoints: metadata, family checks, atomic writes, optimizer state round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spectral_cli.core.atomic import write_with
from spectral_cli.core.checkpoint import (
    flatten_state,
    load_checkpoint,
    model_metadata,
    save_tensors,
    unflatten_state,
)
from spectral_cli.core.errors import BadInput


def test_round_trip_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    tensors = {"w": torch.randn(3, 4), "b": torch.arange(5)}
    save_tensors(path, tensors, model_metadata("hpe", {"train": {"lr": 0.1}}, data_info={"a": 1}))
    loaded, meta = load_checkpoint(path, "hpe")
    for key, value in tensors.items():
        assert torch.equal(loaded[key], value)
    assert meta["spectral.family"] == "hpe"
    assert json.loads(meta["spectral.config"]) == {"train": {"lr": 0.1}}
    assert meta["spectral.schema"] == "1" and meta["spectral.version"]
    assert json.loads(meta["spectral.data_info"]) == {"a": 1}


def test_foreign_and_corrupt_files_are_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"w": torch.zeros(2)}, model_metadata("standard", {}))
    with pytest.raises(BadInput, match="is a 'standard' checkpoint, expected 'hpe'"):
        load_checkpoint(path, "hpe")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(BadInput, match="not a safetensors"):
        load_checkpoint(junk, "hpe")
    with pytest.raises(BadInput, match="does not exist"):
        load_checkpoint(tmp_path / "none.safetensors")
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(1)}, str(plain))
    with pytest.raises(BadInput, match="not written by spectral"):
        load_checkpoint(plain)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"w": torch.ones(2)}, model_metadata("hpe", {}))
    before = path.read_bytes()

    def crash(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_with(path, crash)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp left


def test_optimizer_state_flattening_round_trip() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_state(opt.state_dict(), "optim", tensors)
    restored = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    fresh = torch.optim.Adam(model.parameters(), lr=0.1)
    fresh.load_state_dict(restored)
    for a, b in zip(opt.state.values(), fresh.state.values(), strict=True):
        for key in a:
            assert torch.equal(a[key], b[key])
