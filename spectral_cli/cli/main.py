"""The ``spectral`` app: subcommands, error handling and exit codes (docs/architecture.md).

Every failure leaves through :class:`SpectralGroup.main`: usage errors and
:class:`~spectral_cli.core.errors.BadInput` print one ``error: ...`` line on stderr and exit 2;
failed checks exit 1, runtime failures 3, interruptions 130. ``SPECTRAL_DEBUG=1`` re-raises with the
traceback. Nothing here imports torch: subcommands import their core modules when they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click import exceptions as click_exc  # typer >= 0.20 vendors click
from typer.core import TyperGroup

from spectral_cli.cli.compare import compare
from spectral_cli.cli.export import export
from spectral_cli.cli.harmony_score import harmony_score
from spectral_cli.cli.ntk import ntk
from spectral_cli.cli.output import reporting_rank
from spectral_cli.cli.plot import plot
from spectral_cli.cli.predict import predict
from spectral_cli.cli.train import train, train_help
from spectral_cli.cli.tune import tune
from spectral_cli.cli.verify_lstm import verify_lstm
from spectral_cli.core.credentials import mask_credentials
from spectral_cli.core.errors import SpectralError
from spectral_cli.core.runs import release_run_locks
from spectral_cli.core.signals import install_early_handlers
from spectral_cli.core.version import __version__


def _error(message: str, code: int) -> None:
    """One ``error:`` line on stderr and exit ``code``. Under torchrun a bad input (2) or an
    interruption (130) is printed by rank 0 alone (every rank has it); any other failure by
    each rank that has it, naming the rank."""
    line = mask_credentials(" ".join(str(message).split()))  # a --storage password never shows
    if not reporting_rank():
        if code in (2, 130):
            sys.exit(code)
        line = f"rank {os.environ.get('RANK')}: {line}"
    sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()
    sys.exit(code)


class SpectralGroup(TyperGroup):
    """A Typer group whose errors are one line on stderr, with the documented exit codes."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        install_early_handlers()  # SIGTERM at any moment is exit 130, never -15
        debug = os.environ.get("SPECTRAL_DEBUG") == "1"
        prog_name = prog_name or "spectral"  # also under python -m spectral_cli (completion)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            if rv == 130:  # typer turns KeyboardInterrupt (also our SIGTERM) into Exit(130)
                raise KeyboardInterrupt
        except click_exc.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help(), err=True)
            sys.exit(2)
        except click_exc.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _error(exc.format_message() + hint, 2)
        except click_exc.ClickException as exc:  # e.g. click.FileError
            _error(exc.format_message(), 2)
        except (typer.Abort, KeyboardInterrupt):
            _error("interrupted", 130)
        except SpectralError as exc:
            if debug:
                raise
            _error(str(exc), exc.exit_code)
        except Exception as exc:
            if debug:
                raise
            # out of memory and other failures at run time: exit 3 (docs/architecture.md)
            _error(f"{type(exc).__name__}: {exc} (run with SPECTRAL_DEBUG=1 for a traceback)", 3)
        finally:
            release_run_locks()  # the run directory is free for the next command
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=SpectralGroup,
    name="spectral",
    help="Spectral and harmonic neural-network research toolkit. "
    "Each subcommand writes safetensors checkpoints and JSON reports to a run directory.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spectral {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Spectral and harmonic neural-network research toolkit."""


app.command("train", help=train_help())(train)
app.command("harmony-score")(harmony_score)
app.command("verify-lstm")(verify_lstm)
app.command("tune")(tune)
app.command("ntk")(ntk)
app.command("export")(export)
app.command("predict")(predict)
app.command("compare")(compare)
app.command("plot")(plot)
