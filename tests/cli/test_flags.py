"""Flags declared once with their config key: ntk's and train's family options."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import assert_one_line_error, invoke

from spectral_cli.cli.flags import Flag, FlagValues, yaml_scalar
from spectral_cli.cli.ntk import NTK_FLAGS
from spectral_cli.cli.train import FAMILY_FLAGS
from spectral_cli.core.config import parse_set


def lookup(cfg: dict, dotted: str):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


NTK_VALUES = {  # a valid value for every ntk flag, and what the config then holds
    "--kernel": ("analytic", "analytic"),
    "--task": ("toy1d", "toy1d"),
    "--n-train": ("9", 9),
    "--n-test": ("5", 5),
    "--signals": ("2", 2),
    "--target-slope": ("1.5", 1.5),
    "--depth": ("3", 3),
    "--width": ("17", 17),
    "--parameterization": ("ntk", "ntk"),
    "--activation": ("relu", "relu"),
    "--w-std": ("1.5", 1.5),
    "--b-std": ("0.25", 0.25),
    "--encoding": ("toy", "toy"),
    "--p": ("2", 2.0),
    "--scale": ("3", 3.0),
    "--m": ("5", 5),
    "--train-steps": ("7", 7),
    "--lr": ("0.5", 0.5),
    "--sweep-p": ("0,1,inf", [0.0, 1.0, float("inf")]),
    "--sweep-scale": ("1,3", [1.0, 3.0]),
}


def test_every_ntk_flag_is_declared_with_a_schema_key() -> None:
    from spectral_cli.ntk.config import NTKRunConfig

    assert {f.name for f in NTK_FLAGS} == set(NTK_VALUES)
    for flag in NTK_FLAGS:
        section, _, name = flag.key.rpartition(".")
        cls = NTKRunConfig.model_fields[section].annotation if section else NTKRunConfig
        assert name in cls.model_fields, flag  # type: ignore[union-attr]
    import spectral_cli.cli.ntk as module

    assert not hasattr(module, "_fixed")  # no second, hand-written flag -> key table


@pytest.mark.parametrize("flag", sorted(NTK_VALUES))
def test_each_ntk_flag_sets_its_key(runner, flag: str) -> None:
    text, expected = NTK_VALUES[flag]
    # --scale applies to posenc/gauss only (refused with the default toy encoding)
    extra = ["--encoding", "gauss"] if flag in ("--sweep-scale", "--scale") else []
    result = invoke(runner, "ntk", flag, text, *extra, "--print-config")
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.stdout)
    (decl,) = [f for f in NTK_FLAGS if f.name == flag]
    assert lookup(cfg, decl.key) == expected
    if flag.startswith("--sweep-"):
        assert cfg["sweep"]["param"] == flag.removeprefix("--sweep-")


def test_ntk_flags_win_over_set_and_config(runner, tmp_path: Path) -> None:
    cfg = tmp_path / "ntk.yaml"
    cfg.write_text("model: {depth: 2, width: 8}\ntask: {n_train: 6}\n")
    result = invoke(
        runner,
        "ntk",
        "--config",
        cfg,
        "--set",
        "model.depth=5",
        "--set",
        "model.width=9",
        "--width",
        "11",
        "--print-config",
    )
    assert result.exit_code == 0, result.output
    model = yaml.safe_load(result.stdout)["model"]
    assert (model["depth"], model["width"]) == (5, 11)


def test_family_flag_errors_name_the_flag(runner, tmp_path: Path) -> None:
    bad = invoke(runner, "train", "hmlp", "--init", "bogus", "--out", tmp_path / "a")
    assert_one_line_error(bad, 2)
    assert "--init" in bad.stderr and "bogus" in bad.stderr and "--set" not in bad.stderr
    foreign = invoke(runner, "train", "hpe", "--init", "harmonic", "--out", tmp_path / "b")
    assert_one_line_error(foreign, 2)
    assert "--init does not apply to family 'hpe'" in foreign.stderr
    assert "spectral train hpe --print-config" in foreign.stderr
    assert "configs/" not in foreign.stderr
    window = invoke(runner, "train", "spectra-lstm", "--window", "1", "--out", tmp_path / "c")
    assert_one_line_error(window, 2)
    assert "--window" in window.stderr and "model.window" not in window.stderr
    seed = invoke(runner, "train", "hpe", "--seed", "-2", "--out", tmp_path / "d")
    assert_one_line_error(seed, 2)
    assert "--seed" in seed.stderr
    assert not [p for p in tmp_path.iterdir()]  # refused before any run directory


def test_family_flags_set_their_keys(runner) -> None:
    result = invoke(
        runner,
        "train",
        "spectra-lstm",
        "--window",
        "12",
        "--init",
        "random",
        "--compare",
        "--set",
        "model.window=9",
        "--print-config",
    )
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.stdout)
    assert cfg["model"]["window"] == 12 and cfg["model"]["init"] == "random"
    assert cfg["train"]["compare"] is True
    assert {f.key for f in FAMILY_FLAGS} == {
        "model.init",
        "model.window",
        "model.baseline",
        "train.compare",
        "data.dir",
    }


@pytest.mark.parametrize(
    "value",
    ["yes", "null", "1e3", "on", "x: y", "[1]", "é", 3, 2.5, True, float("inf"), Path("/tmp/a b")],
)
def test_flag_values_keep_their_type_through_set(value: object) -> None:
    ((_, parsed),) = parse_set([f"k={yaml_scalar(value)}"])
    assert parsed == (str(value) if isinstance(value, Path) else value)
    assert type(parsed) is (str if isinstance(value, Path) else type(value))


def test_flag_values_nest_and_explain() -> None:
    depth = Flag("--depth", "model.depth", int, "")
    given = FlagValues().plus(depth, 3).plus(Flag("--x", "x", int, ""), None)
    assert given.nested() == {"model": {"depth": 3}} and given.as_sets() == ["model.depth=3"]
    msg = "invalid config value for 'model.depth' in --set: Input should be >= 1 (got 0)"
    assert given.explain(msg, "here", "hint") == "invalid --depth: Input should be >= 1 (got 0)"
    assert given.explain("something else", "here", "hint") == "something else"
