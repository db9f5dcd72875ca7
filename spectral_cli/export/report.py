"""Options and reports of ``spectral export`` and ``spectral predict``.

The options are configs like every command's (flags < ``--set`` < ``--config``); the reports are
what ``--json`` prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field

from spectral_cli.core.registry import EXPORT_FORMATS
from spectral_cli.core.report import Report
from spectral_cli.core.schema import Frozen
from spectral_cli.export.parity import Parity

Format = Literal["onnx", "dense", "safetensors"]
assert set(get_args(Format)) == set(EXPORT_FORMATS)

DEFAULT_OPSET = 18
DEFAULT_TOL = 1e-5
# half-precision re-saves: the bound catches a broken model (overflow, NaN), not rounding; a trained
# hpe measured 8e-3 (float16) and 0.1 (bfloat16) -- the test-metric change is the figure to read
HALF_TOL = {"float16": 5e-2, "bfloat16": 5e-1}


class ExportOptions(Frozen):
    """``spectral export``'s config. ``tol`` null: 1e-5 for onnx and dense, 5e-2 (float16) or
    5e-1 (bfloat16) for a half-precision re-save; ``dtype`` null with safetensors: float16."""

    format: Format | None = None
    model: str | None = None
    opset: int = Field(default=DEFAULT_OPSET, ge=7, le=20)
    tol: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    dtype: Literal["float16", "bfloat16"] | None = None
    seed: int = Field(default=0, ge=0, lt=2**32)

    def tolerance(self) -> float:
        if self.tol is not None:
            return self.tol
        if self.format == "safetensors":
            return HALF_TOL[self.dtype or "float16"]
        return DEFAULT_TOL


class PredictOptions(Frozen):
    """``spectral predict``'s config. ``engine`` null: onnxruntime for an ``.onnx`` SOURCE,
    torch otherwise; ``model_input``: the input is the model's input itself (tokens, or
    standardized features), not the raw signals or features ``predict`` prepares by default."""

    input: Path | None = None
    model: str | None = None
    engine: Literal["torch", "onnxruntime"] | None = None
    model_input: bool = False
    batch_size: int = Field(default=256, ge=1, le=1_000_000)


class ExportReport(Report):
    """What was exported where, and how close it is to its source."""

    command: str = "export"
    family: str
    source: str
    format: str
    out: str
    bytes: int
    parity: Parity
    details: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        extra = self.details.get("summary")
        arrow = "->" if self.parity.passed else "NOT written to"  # a failed check writes nothing
        head = f"export {self.family} {arrow} {self.out} ({self.format}"
        head += f", {extra})" if extra else ")"
        return f"{head}: {self.parity.line()}"


class PredictReport(Report):
    """Predictions written, and the family's metrics when the input had labels."""

    command: str = "predict"
    family: str
    source: str
    engine: str
    input: str
    input_kind: str
    n: int
    out: str
    outputs: dict[str, list[int]]
    metrics: dict[str, float] = Field(default_factory=dict)

    def summary(self) -> str:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in self.metrics.items())
        return f"predict {self.family} ({self.engine}): {self.n} inputs -> {self.out}" + (
            f"; {shown}" if shown else ""
        )
