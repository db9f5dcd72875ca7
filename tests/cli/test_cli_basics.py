"""The app shell: help without torch, the subcommands and usage errors."""

from __future__ import annotations

from helpers import assert_help_imports_none, assert_one_line_error, invoke, subcommand_names


def test_help_lists_every_subcommand(runner) -> None:
    names = subcommand_names()  # read from the app, not a hand-kept list
    assert "train" in names
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for name in names:
        assert name in result.stdout


def test_help_does_not_import_torch() -> None:
    assert_help_imports_none(["--help"], modules=("torch", "numpy"))


def test_usage_errors_are_one_line_exit_2(runner) -> None:
    assert_one_line_error(invoke(runner, "train", "hpe", "--bogus"), 2)
    assert_one_line_error(invoke(runner, "train"), 2)
    assert_one_line_error(invoke(runner, "nosuchcommand"), 2)
    assert_one_line_error(invoke(runner, "train", "hpe", "--device", "tpu"), 2)


def test_version(runner) -> None:
    from spectral_cli import __version__

    result = invoke(runner, "--version")
    assert result.exit_code == 0 and __version__ in result.stdout
