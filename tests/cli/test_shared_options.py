"""The shared options: one declaration for every subcommand, and config layering for the
commands that used to have none (verify-lstm, harmony-score)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import (
    assert_one_line_error,
    declared_in_options,
    invoke,
    read_report,
    subcommand_names,
)

from spectral_cli.cli.main import app
from spectral_cli.cli.options import Shared

SHARED = [
    "--config",
    "--set",
    "--device",
    "--seed",
    "--out",
    "--json",
    "--quiet",
    "--verbose",
    "--overwrite",
]
RESUMABLE = {"train", "tune"}  # the README: --resume is for train and tune only
NO_PRINT_CONFIG = {"tune"}  # a study has no single resolved config to print
# commands that only read reports take no shared option but --json (the README says so)
READERS = {"compare"}
# commands that redraw saved runs: output manners and threads only (nothing to configure)
REDRAWERS = {"plot": {"--json", "--quiet", "--verbose", "--threads"}}
COMMANDS = [n for n in subcommand_names() if n not in READERS | set(REDRAWERS)]
VERIFY = ["verify-lstm", "--windows", "2", "--no-plots"]


def click_command(name: str):
    import typer

    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def has_option(name: str, option: str) -> bool:
    return any(option in p.opts for p in click_command(name).params)


def takes_no_required_argument(name: str) -> bool:
    """``train`` is given its family below; other commands with a required argument (``export
    SOURCE``) have nothing to print without it."""
    return name == "train" or not any(
        p.required and p.param_type_name == "argument" for p in click_command(name).params
    )


@pytest.mark.parametrize(
    "name",
    COMMANDS,
)
def test_every_subcommand_takes_the_shared_options_from_one_declaration(runner, name: str) -> None:
    resume, print_config = name in RESUMABLE, name not in NO_PRINT_CONFIG
    expected = SHARED + ["--resume"] * resume + ["--print-config"] * print_config
    params = {opt: p for p in click_command(name).params for opt in p.opts}
    declared = declared_in_options(name)
    for opt in expected:
        assert opt in params, (name, opt)
        assert params[opt].name in declared, (name, opt)  # from options.py, not copied
    assert ("--resume" in params) == resume and ("--print-config" in params) == print_config
    assert params["-q"] is params["--quiet"] and params["-v"] is params["--verbose"]
    help_text = invoke(runner, name, "--help").stdout
    for opt in expected:
        assert opt in help_text, (name, opt)


@pytest.mark.parametrize(
    "name",
    [n for n in COMMANDS if has_option(n, "--print-config") and takes_no_required_argument(n)],
)
def test_print_config_alone_prints_the_defaults_and_creates_nothing(
    runner, name: str, tmp_path: Path, monkeypatch
) -> None:
    """``<command> --print-config`` with no other input prints the resolved defaults (YAML that
    ``--config`` reads back) and exits 0, for every command that has the option (harmony-score
    used to ask for --vectors or --checkpoint first)."""
    monkeypatch.chdir(tmp_path)
    args = ["train", "hpe"] if name == "train" else [name]
    result = invoke(runner, *args, "--print-config")
    assert result.exit_code == 0, result.output
    assert isinstance(yaml.safe_load(result.stdout), dict) and result.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_shared_collects_the_options_a_command_takes() -> None:
    """``Shared.of(locals())``: the fields among the parameters, tuples for the repeatable
    options, the defaults for the options the command does not take."""
    shared = Shared.of({"family": "hpe", "sets": ["a=1"], "logger": None, "seed": 3})
    assert shared == Shared(sets=("a=1",), seed=3)
    assert Shared.of({}) == Shared() and not Shared(verbose=True, quiet=True).details


def test_verify_lstm_layers_defaults_config_set_and_flags(runner, tmp_path: Path) -> None:
    cfg = tmp_path / "verify.yaml"
    cfg.write_text("window: 4\ndtype: float32\nsignal: sines\n")
    runs = {
        "config": ["--config", cfg],
        "set": ["--config", cfg, "--set", "window=5"],
        "flag": ["--config", cfg, "--set", "window=5", "--window", "6", "--seed", "3"],
    }
    expected = {"config": 4, "set": 5, "flag": 6}
    for label, args in runs.items():
        out = tmp_path / label
        result = invoke(runner, *VERIFY, *args, "--out", out, "-q")
        assert result.exit_code == 0, result.output
        saved = yaml.safe_load((out / "config.yaml").read_text())
        assert saved["window"] == expected[label] and saved["dtype"] == "float32"
        assert saved["signal"] == "sines" and saved["plots"] is False
        report = read_report(out)
        assert report["window"] == expected[label] and report["files"]["config"] == "config.yaml"
    assert yaml.safe_load((tmp_path / "flag" / "config.yaml").read_text())["seed"] == 3
    # the saved config repeats the run
    again = invoke(
        runner,
        "verify-lstm",
        "--config",
        tmp_path / "flag" / "config.yaml",
        "--out",
        tmp_path / "again",
        "-q",
    )
    assert again.exit_code == 0, again.output
    assert (
        read_report(tmp_path / "again")["max_error"] == read_report(tmp_path / "flag")["max_error"]
    )


def test_harmony_score_takes_config_and_set(runner, tmp_path: Path) -> None:
    z = np.random.default_rng(0).standard_normal((3, 8))
    np.save(tmp_path / "z.npy", z)
    cfg = tmp_path / "score.yaml"
    cfg.write_text(f"vectors: {tmp_path / 'z.npy'}\nvariant: seed\nalpha: 2.0\n")
    result = invoke(
        runner,
        "harmony-score",
        "--config",
        cfg,
        "--set",
        "beta=0.25",
        "--json",
        "--out",
        tmp_path / "run",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["variant"] == "original" and report["config"]["alpha"] == 2.0
    assert report["config"]["beta"] == 0.25
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["vectors"] == str(tmp_path / "z.npy") and saved["beta"] == 0.25
    flag_wins = invoke(runner, "harmony-score", "--config", cfg, "--variant", "fixed", "--json")
    assert json.loads(flag_wins.stdout)["variant"] == "fixed"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--set", "nosuch=1"], "nosuch"),
        (["--set", "window=eight"], "window"),
        (["--set", "dtype=float16"], "dtype"),
        (["--set", "seed=-1"], "seed"),
        (["--dtype", "float16"], "--dtype"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_verify_lstm_config_errors_are_one_line(runner, tmp_path: Path, args, needle) -> None:
    out = tmp_path / "out"
    result = invoke(runner, *VERIFY, *args, "--out", out)
    assert_one_line_error(result, 2)
    assert needle in result.stderr and "configs/" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "nosuch=1"],
        ["--set", "variant=x"],
        ["--set", "alpha=.nan"],
        ["--variant", "x"],
        ["--critical-band", "bark"],
    ],
)
def test_harmony_score_config_errors_are_one_line(runner, tmp_path: Path, args) -> None:
    np.save(tmp_path / "z.npy", np.ones((2, 4)))
    out = tmp_path / "out"
    result = invoke(runner, "harmony-score", "--vectors", tmp_path / "z.npy", *args, "--out", out)
    assert_one_line_error(result, 2)
    assert "configs/" not in result.stderr
    assert not out.exists()


def test_config_file_of_another_command_is_refused(runner, tmp_path: Path) -> None:
    cfg = tmp_path / "verify.yaml"
    cfg.write_text("window: 4\n")
    result = invoke(runner, "harmony-score", "--config", cfg)
    assert_one_line_error(result, 2)
    assert "window" in result.stderr


@pytest.mark.parametrize("name", sorted(READERS))
def test_report_readers_take_json_and_nothing_that_would_be_ignored(name: str) -> None:
    """``compare`` runs no model: a --device or --seed would be silently ignored, so it has none."""
    options = {opt for p in click_command(name).params for opt in p.opts if opt.startswith("-")}
    assert options == {"--json"}  # (--help is the group's, not a parameter)


@pytest.mark.parametrize("name", sorted(REDRAWERS))
def test_redrawers_take_their_shared_options_from_the_one_declaration(name: str) -> None:
    """``plot`` trains nothing and resolves no config: of the shared options it takes the
    output manners and ``--threads``, declared in options.py like everyone's."""
    params = {opt: p for p in click_command(name).params for opt in p.opts}
    declared = declared_in_options(name)
    shared = {f"--{p.name.replace('_', '-')}" for p in params.values() if p.name in declared}
    assert shared == REDRAWERS[name]
    assert not {"--config", "--set", "--device", "--seed", "--out"} & set(params)
