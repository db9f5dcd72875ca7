"""JSON reports: pydantic models serialized with a ``schema_version``.

Every command's report derives from :class:`Report`; :func:`write_report` writes it atomically.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spectral_cli.core.atomic import write_text_atomic
from spectral_cli.core.provenance import Provenance, ResumeEntry
from spectral_cli.core.version import __version__

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


class Params(BaseModel):
    """Parameter counts (``embedding``: parameters of the token embedding, 0 if none)."""

    total: int
    embedding: int
    trainable: int


class Timing(BaseModel):
    """``total_seconds``: training + validation time over all epochs (summed across resumes);
    ``wall_seconds``: this invocation, first epoch to the end of the final evaluation;
    ``torch_threads``: intra-op threads (CPU results are bit-identical only for the same count)."""

    total_seconds: float
    seconds_per_epoch: float
    wall_seconds: float
    torch_threads: int

    @classmethod
    def of(cls, total_seconds: float, epochs: int, wall_seconds: float) -> Timing:
        """The timing of ``epochs`` epochs that took ``total_seconds``, in this process."""
        import torch

        return cls(
            total_seconds=total_seconds,
            seconds_per_epoch=total_seconds / max(epochs, 1),
            wall_seconds=wall_seconds,
            torch_threads=torch.get_num_threads(),
        )


class Selection(BaseModel):
    """Which validation metric picked the kept weights, in which direction, and when."""

    metric: str
    mode: str
    best_epoch: int
    best_value: float | None
    epochs_run: int
    kept: str = "best"  # "best": the selected epoch's weights; "last": the final ones

    def kept_value(self, history: list[dict[str, float]]) -> float:
        """The selection metric of the weights the run kept: ``best_value`` when the best
        epoch's weights were kept, else (``kept == "last"``, or no best value was recorded)
        the metric of the last epoch in ``history``."""
        if self.kept == "last" or self.best_value is None:
            return float(history[-1][self.metric])
        return float(self.best_value)


class ModelSummary(BaseModel):
    """One model of a multi-model run (``--compare``, ``--baseline``, several inits)."""

    family: str
    file: str
    seed: int
    params: Params
    metrics: dict[str, float | None]
    selection: Selection
    history: list[dict[str, float]]
    timing: Timing
    extras: dict[str, Any] = Field(default_factory=dict)


class TrainReport(Report):
    """``spectral train`` report, the same for every family.

    ``metrics``/``params``/``history``/``selection``/``timing`` describe the primary model
    (``model.safetensors``); ``models`` has every model of the run by name, the primary first.
    Test metrics are null when the run was told not to look at the test split (tuning trials).
    """

    command: str = "train"
    family: str
    params: Params
    metrics: dict[str, float | None]
    selection: Selection
    history: list[dict[str, float]]
    timing: Timing
    data: dict[str, Any]
    models: dict[str, ModelSummary] = Field(default_factory=dict)
    resumed: bool = False
    files: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance | None = None  # recorded when the run started; a resume keeps it
    resumes: list[ResumeEntry] = Field(default_factory=list)

    def summary(self) -> str:
        """``family: <test metrics> (best <metric> <value> at epoch e/n), params, s/epoch``;
        other models of the run follow after ``|``."""

        def line(name: str, metrics: dict[str, float | None], sel: Selection) -> str:
            shown = [
                f"{k.replace('_', ' ')} {v:.4g}"
                for k, v in metrics.items()
                if k.startswith("test_") and v is not None
            ][:3] or ["test n/a"]
            best = "n/a" if sel.best_value is None else f"{sel.best_value:.4g}"
            metric = sel.metric.replace("_", " ")
            return (
                f"{name}: {', '.join(shown)} (best {metric} {best} at epoch "
                f"{sel.best_epoch}/{sel.epochs_run})"
            )

        head = (
            f"{line(self.family, self.metrics, self.selection)}, {self.params.total:,} "
            f"params, {self.timing.seconds_per_epoch:.2f} s/epoch"
        )
        others = [line(name, m.metrics, m.selection) for name, m in list(self.models.items())[1:]]
        return " | ".join([head, *others])


def write_report(path: Path, report: BaseModel) -> None:
    """Atomically write ``report`` as indented JSON."""
    write_text_atomic(path, report.model_dump_json(indent=2) + "\n")
