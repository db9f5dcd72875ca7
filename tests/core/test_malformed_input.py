"""Malformed input is exit 2 with a short line naming the real problem (exit 3 before)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_one_line_error, invoke

from spectral_cli.core.config import MAX_CONFIG_NODES, read_yaml
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import family_names


def test_yaml_integer_beyond_python_int_conversion_is_bad_input(runner, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("train:\n  epochs: " + "1" * 5000 + "\n")
    with pytest.raises(BadInput, match="holds a number that cannot be read"):
        read_yaml(config)
    family = family_names()[0]
    result = invoke(
        runner, "train", family, "--set", "train.epochs=" + "1" * 5000, "--print-config"
    )
    assert_one_line_error(result, 2)
    assert len(result.stderr) < 300


def test_many_written_out_nodes_are_not_blamed_on_aliases(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  k:\n" + "  - 1\n" * (MAX_CONFIG_NODES + 1))
    with pytest.raises(BadInput, match="YAML nodes") as err:
        read_yaml(config)
    assert "alias" not in str(err.value)


def test_very_long_data_path_is_a_short_error(runner, tmp_path: Path) -> None:
    family = family_names()[0]
    out = tmp_path / "run"
    for path in ("a" * 100_000, "a/" * 2000):
        result = invoke(runner, "train", family, "--set", f"data.path={path}", "--out", out)
        assert_one_line_error(result, 2)
        assert len(result.stderr) < 400, len(result.stderr)
        assert not out.exists()


@pytest.mark.parametrize("name", ["report.json", "model.safetensors"])
def test_directory_at_a_run_file_is_refused_before_training(
    runner, tmp_path: Path, name: str
) -> None:
    family = family_names()[0]
    out = tmp_path / "run"
    (out / name).mkdir(parents=True)
    result = invoke(runner, "train", family, "--set", "train.epochs=1", "--out", out, "--overwrite")
    assert_one_line_error(result, 2)
    assert f"{name} is a directory" in result.stderr
    left = sorted(p.name for p in out.iterdir() if p.name != ".spectral.lock")
    assert left == [name]  # nothing trained, nothing written


def test_ntk_kernel_overflow_is_refused_before_the_run(runner, tmp_path: Path) -> None:
    out = tmp_path / "ntk"
    result = invoke(runner, "ntk", "--w-std", "1e300", "--out", out)
    assert_one_line_error(result, 2)
    assert "--w-std" in result.stderr and "overflow" in result.stderr
    assert not out.exists()
