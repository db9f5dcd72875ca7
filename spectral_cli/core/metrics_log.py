"""Live logs of a training run: ``metrics.jsonl`` always, TensorBoard event files on request.

:class:`EpochLog` wraps the loop's observer: at every epoch end (after the state is saved) it
appends one JSON line to ``metrics.jsonl`` in the run directory and flushes it, so the file can
be watched (``tail -f``) and read (``pandas.read_json(path, lines=True)``) while the run goes.
Each line holds the model's name, ``epoch``, ``step``, every metric of the epoch, ``seconds``
and the UTC ``time``. A resumed model first drops its lines past the resumed position, so the
file never holds an epoch twice and equals the report's history.

With ``tensorboard`` (``--logger tensorboard``; the optional extra ``[tensorboard]``), the same
scalars go to ``tensorboard/<model>/`` through TensorBoard's own writer
(``torch.utils.tensorboard.SummaryWriter``), and the final hyperparameters with the final
metrics at the end; ``tensorboard --logdir runs/`` shows every run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spectral_cli.core.errors import BadInput
from spectral_cli.core.evaluation import Observer
from spectral_cli.core.provenance import utc_now

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
LOGGERS = ("tensorboard",)


def check_loggers(loggers: tuple[str, ...]) -> None:
    """Refuse unknown loggers and a missing TensorBoard before anything is created."""
    for name in loggers:
        if name not in LOGGERS:
            raise BadInput(f"--logger {name}: choose one of {', '.join(LOGGERS)}")
    if "tensorboard" in loggers:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise BadInput(
                "--logger tensorboard needs the tensorboard package: "
                "pip install 'spectral-cli[tensorboard]'"
            ) from None


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` (a torn last line of a killed writer is skipped)."""
    return _records(path.read_text(encoding="utf-8")) if path.is_file() else []


def _records(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def keep_until(path: Path, model: str, epochs_done: int) -> None:
    """Drop ``model``'s lines past ``epochs_done`` (a resume continues from there)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    records = _records(text)
    kept = [r for r in records if not (r.get("model") == model and r.get("epoch", 0) > epochs_done)]
    if len(kept) != len(records) or (text and not text.endswith("\n")):
        from spectral_cli.core.atomic import write_text_atomic

        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


class EpochLog:
    """An :class:`~spectral_cli.core.evaluation.Observer` that logs every epoch, then passes
    every event on to ``inner``."""

    def __init__(
        self,
        inner: Observer,
        run_dir: Path,
        model: str,
        loggers: tuple[str, ...] = (),
        enabled: bool = True,
    ) -> None:
        self.inner, self.model, self.enabled = inner, model, enabled
        self.path = run_dir / METRICS_FILE
        self.tensorboard = run_dir / TENSORBOARD_DIR / model if "tensorboard" in loggers else None
        self.writer: Any = None

    def resume_at(self, epochs_done: int, steps_per_epoch: int) -> None:
        """Start logging after ``epochs_done`` epochs: lines past them are dropped, and
        TensorBoard purges the events of later steps (logged before an interruption)."""
        if not self.enabled:
            return
        keep_until(self.path, self.model, epochs_done)
        if self.tensorboard is not None:
            from torch.utils.tensorboard import SummaryWriter

            purge = epochs_done * steps_per_epoch + 1 if epochs_done else None
            self.writer = SummaryWriter(log_dir=str(self.tensorboard), purge_step=purge)

    def log(self, message: str) -> None:
        self.inner.log(message)

    def on_step(self, epoch: int, step: int, steps: int) -> None:
        self.inner.on_step(epoch, step, steps)

    def on_epoch(self, record: dict[str, float], improved: bool) -> None:
        if self.enabled:
            line = {"model": self.model, **record, "time": utc_now()}
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            if self.writer is not None:
                step = int(record["step"])
                for key, value in record.items():
                    if key not in ("epoch", "step"):
                        self.writer.add_scalar(key, value, step)
                self.writer.flush()
        self.inner.on_epoch(record, improved)

    def close(self, hparams: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None):
        """Write the final hyperparameters with the final metrics, and close the writer."""
        if self.writer is None:
            return
        if hparams is not None:
            final = {f"final/{k}": v for k, v in (metrics or {}).items() if v is not None}
            self.writer.add_hparams(hparams, final, run_name=".")
        self.writer.close()
        self.writer = None
