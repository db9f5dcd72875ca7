"""Rendering of core progress events on stderr with rich (never on stdout).

The run's header line (``training hpe on cpu ... -> DIR``) is printed when the run first reports
progress, i.e. once its data has loaded: a run refused for bad input logs nothing before its
one ``error:`` line, and no log line names a run directory that then is not kept.
"""

from __future__ import annotations

import sys
from typing import Any

from spectral_cli.cli.output import stderr_console


class RichObserver:
    """The training loop's ``Observer``: a progress bar on a TTY, epoch lines if verbose."""

    def __init__(
        self,
        quiet: bool = False,
        verbose: bool = False,
        total_epochs: int = 0,
        header: str | None = None,
    ) -> None:
        self.console = stderr_console()
        self.quiet, self.verbose = quiet, verbose
        self.header = header
        self.total_epochs = total_epochs
        self._progress: Any = None
        self._task: Any = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[n_epochs]}"),
                BarColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )

    def __enter__(self) -> RichObserver:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=1, epoch=0, n_epochs=self.total_epochs, info=""
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def announce(self) -> None:
        """Print the header once (on the first progress event)."""
        if self.header is not None:
            header, self.header = self.header, None
            self.log(header)

    def log(self, message: str) -> None:
        self.announce()
        if not self.quiet:
            self.console.print(message)

    def on_step(self, epoch: int, step: int, steps: int) -> None:
        self.announce()
        if self._progress is not None:
            self._progress.update(self._task, completed=step / steps, epoch=epoch)

    def on_epoch(self, record: dict[str, float], improved: bool) -> None:
        self.announce()
        mark = " *" if improved else ""
        shown = "  ".join(
            f"{k} {v:.4g}" for k, v in record.items() if k not in ("epoch", "seconds")
        )
        line = f"epoch {int(record['epoch'])}: {shown}  ({record['seconds']:.2f}s){mark}"
        if self._progress is not None:
            self._progress.update(self._task, info=f"val loss {record['val_loss']:.4g}")
        if not self.quiet and (self.verbose or self._progress is None):
            self.console.print(line)  # off a terminal: one plain line per epoch (CI logs)
