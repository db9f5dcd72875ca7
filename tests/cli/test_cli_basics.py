"""The app shell: help without torch, the six subcommands, placeholders and usage errors."""

from __future__ import annotations

import subprocess
import sys

from conftest import assert_one_line_error, invoke

SUBCOMMANDS = ["train", "tune", "verify-lstm", "ntk", "harmony-score", "export"]


def test_help_lists_all_six_subcommands(runner) -> None:  # noqa: ANN001
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from spectral_cli.cli.main import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
        "assert 'numpy' not in sys.modules, 'numpy imported by --help'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_pending_subcommands_refuse_to_pretend(runner) -> None:  # noqa: ANN001
    from spectral_cli.cli.placeholders import PENDING

    for name in PENDING:  # subcommands that have landed are tested in their own files
        result = invoke(runner, name, "--anything", "x")
        assert_one_line_error(result, 2)
        assert "not available yet" in result.stderr


def test_usage_errors_are_one_line_exit_2(runner) -> None:  # noqa: ANN001
    assert_one_line_error(invoke(runner, "train", "hpe", "--bogus"), 2)
    assert_one_line_error(invoke(runner, "train"), 2)
    assert_one_line_error(invoke(runner, "nosuchcommand"), 2)
    assert_one_line_error(invoke(runner, "train", "hpe", "--device", "tpu"), 2)


def test_version(runner) -> None:  # noqa: ANN001
    from spectral_cli import __version__

    result = invoke(runner, "--version")
    assert result.exit_code == 0 and __version__ in result.stdout
