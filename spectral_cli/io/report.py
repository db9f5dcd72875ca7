"""JSON reports: pydantic models serialized with a ``schema_version``.

Every command's report derives from :class:`Report`; :func:`write_report` writes it atomically.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spectral_cli import __version__
from spectral_cli.io.atomic import write_text_atomic

REPORT_SCHEMA_VERSION = "1"


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on."""
    import numpy
    import torch

    return {
        "spectral": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


class Report(BaseModel):
    """Fields every report has."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = REPORT_SCHEMA_VERSION
    command: str
    config: dict[str, Any]
    seed: int
    device: str
    versions: dict[str, str] = Field(default_factory=library_versions)

    def summary(self) -> str:
        """One human line for the terminal (subclasses say more)."""
        return f"{self.command} done"


class EpochRecord(BaseModel):
    """One epoch of training."""

    epoch: int
    loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float


class Params(BaseModel):
    total: int
    embedding: int
    trainable: int


class TrainMetrics(BaseModel):
    """Accuracies of the best-validation epoch's weights (test is never used for selection).

    Test metrics are null when the run was told not to look at the test split (tuning trials).
    """

    test_acc: float | None
    test_loss: float | None
    val_acc: float
    val_loss: float
    train_acc: float
    best_epoch: int
    epochs_run: int


class Timing(BaseModel):
    """``total_seconds``: training + validation time over all epochs (summed across resumes);
    ``wall_seconds``: this invocation from first epoch to the end of the test evaluation."""

    total_seconds: float
    seconds_per_epoch: float
    wall_seconds: float


class DataSummary(BaseModel):
    source: str
    n_train: int
    n_val: int
    n_test: int
    vocab_size: int | None  # null for float inputs (data_kind="vectors")
    seq_len: int  # tokens per sequence, or the input size of a vector family
    num_classes: int


class TrainReport(Report):
    """``spectral train`` report."""

    command: str = "train"
    family: str
    params: Params
    metrics: TrainMetrics
    history: list[EpochRecord]
    timing: Timing
    data: DataSummary
    resumed: bool = False
    files: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict)  # family results (hmlp: frequency tables)

    def summary(self) -> str:
        m = self.metrics
        test = "n/a" if m.test_acc is None else f"{m.test_acc:.4f}"
        return (
            f"{self.family}: test acc {test} (best val {m.val_acc:.4f} at epoch "
            f"{m.best_epoch}/{m.epochs_run}), {self.params.total:,} params, "
            f"{self.timing.seconds_per_epoch:.2f} s/epoch"
        )


def write_report(path: Path, report: BaseModel) -> None:
    """Atomically write ``report`` as indented JSON."""
    write_text_atomic(path, report.model_dump_json(indent=2) + "\n")
