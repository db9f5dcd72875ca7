"""CLI manners: stdout/stderr discipline, one-line refusals, --print-config, help, completion."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import (
    TINY,
    assert_help_imports_none,
    assert_one_line_error,
    invoke,
    read_report,
    subcommand_names,
)

from spectral_cli.core.registry import family_descriptions

NTK_TINY = ["ntk", "--width", "8", "--depth", "2", "--m", "2", "--n-train", "6", "--n-test", "6"]
VERIFY_TINY = ["verify-lstm", "--window", "3", "--windows", "2", "--no-plots"]


def long_dir(tmp_path: Path) -> Path:
    """A run directory whose path is 200 characters long."""
    path = tmp_path / "deep"
    return path / ("x" * (200 - len(str(path)) - 1))


def test_quiet_silences_stderr_only(runner, tmp_path: Path) -> None:
    for i, args in enumerate([VERIFY_TINY, NTK_TINY]):
        out = tmp_path / f"q{i}"
        result = invoke(runner, *args, "--out", out, "--quiet", "--verbose")
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        assert result.stdout.count("\n") == 1 and result.stdout.rstrip().endswith(f"-> {out}")
        loud = invoke(runner, *args, "--out", tmp_path / f"l{i}", "--verbose")
        assert loud.stderr and loud.stdout.count("\n") == 1


def test_json_is_the_only_thing_on_stdout(runner, tmp_path: Path) -> None:
    for i, args in enumerate([VERIFY_TINY, NTK_TINY]):
        out = tmp_path / f"j{i}"
        result = invoke(runner, *args, "--out", out, "--json", "--verbose", "-q")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == read_report(out)


def test_long_log_lines_are_not_wrapped(runner, tmp_path: Path) -> None:
    out = long_dir(tmp_path)
    assert len(str(out)) == 200
    result = invoke(runner, *NTK_TINY, "--out", out, "--verbose")
    assert result.exit_code == 0, result.output
    (header,) = [line for line in result.stderr.splitlines() if line.startswith("spectral ntk")]
    assert header.endswith(f"-> {out}")
    train_out = long_dir(tmp_path / "t")
    result = invoke(
        runner, "train", "hpe", *TINY, "--set", "train.epochs=1", "--out", train_out, "--verbose"
    )
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"training hpe on cpu (seed 0) -> {train_out}"
    assert lines[1].startswith("epoch 1: ") and "val_loss" in lines[1]


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "train.lr=-1"],
        ["--set", "data.path=none.npz"],
        ["--set", "model.nope=1"],
        ["--config", "missing.yaml"],
        ["--resume", "--config", "x.yaml"],
    ],
)
def test_bad_train_input_is_exactly_one_line_without_quiet(
    runner, tmp_path: Path, monkeypatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    result = invoke(runner, "train", "hpe", *args, "--out", out)  # no -q: logs would show
    assert_one_line_error(result, 2)
    assert result.stdout == "" and "configs/" not in result.stderr
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_print_config_round_trips_and_creates_nothing(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = invoke(runner, "train", "hpe", "--set", "model.k=9", "--seed", "5", "--print-config")
    assert first.exit_code == 0, first.output
    cfg = yaml.safe_load(first.stdout)  # the comments keep it valid YAML
    assert cfg["family"] == "hpe" and cfg["model"]["k"] == 9 and cfg["seed"] == 5
    (count,) = re.findall(r"^# parameters: (\d+)$", first.stdout, re.M)
    saved = tmp_path / "hpe.yaml"
    saved.write_text(first.stdout)
    again = invoke(runner, "train", "hpe", "--config", saved, "--print-config")
    assert again.stdout == first.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hpe.yaml"]  # nothing else made
    # the count is the model's: train the same config and compare
    result = invoke(runner, "train", "hpe", "--config", saved, *TINY, "--out", tmp_path / "r", "-q")
    assert result.exit_code == 0, result.output
    assert read_report(tmp_path / "r")["params"]["total"] == int(count)
    refused = invoke(runner, "train", "hpe", "--print-config", "--resume", "--out", tmp_path)
    assert_one_line_error(refused, 2)


def test_train_help_lists_every_family_with_its_description(runner) -> None:
    result = invoke(runner, "train", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for name, description in family_descriptions().items():
        assert f"{name} {' '.join(description.split()[:3])}" in text, name


def test_user_facing_text_cites_no_issue_or_seed_numbers(runner) -> None:
    texts = [invoke(runner, "--help").stdout]
    for name in subcommand_names():
        texts.append(invoke(runner, name, "--help").stdout)
    texts.append(invoke(runner, "export").stderr)
    for text in texts:
        assert not re.search(r"\bissue\b|seed 0\d\d|configs/", text, re.I), text


def test_help_of_train_imports_no_torch() -> None:
    assert_help_imports_none(["train", "--help"])


def run_spectral(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spectral_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_shell_completion_in_a_real_process() -> None:
    # typer's switch to take the shell from the command line instead of detecting it
    shown = run_spectral(
        "--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    )
    assert shown.returncode == 0, shown.stderr
    assert "complete -o default -F _spectral_completion spectral" in shown.stdout
    assert "_SPECTRAL_COMPLETE=complete_bash" in shown.stdout
    # what the installed script asks the program: subcommands, families, options
    asks = {
        "spectral tr": ("1", "train"),
        "spectral train hp": ("2", "hpe"),
        "spectral ntk --dep": ("2", "--depth"),
    }
    for words, (cword, expected) in asks.items():
        done = run_spectral(
            env={"_SPECTRAL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
        )
        assert done.returncode == 0 and expected in done.stdout.split(), (words, done)


def test_quiet_run_in_a_real_process(tmp_path: Path) -> None:
    out = tmp_path / "v"
    done = run_spectral(*VERIFY_TINY, "--set", "window=4", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout.startswith("verify-lstm T=3")
    assert yaml.safe_load((out / "config.yaml").read_text())["window"] == 3  # the flag wins
