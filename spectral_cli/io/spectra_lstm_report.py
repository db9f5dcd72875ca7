"""Report of ``spectral train spectra-lstm`` (issue 7): one :class:`ModelResult` per model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from spectral_cli.io.report import Report


class CurvePoint(BaseModel):
    """Normalized MSE after ``step`` optimizer steps (step 0: the initialisation)."""

    step: int
    train_loss: float  # mean over the steps of the period (step 0: over the training set)
    val_loss: float


class VerifySummary(BaseModel):
    """``verify-lstm`` on the trained weights (a sine signal inside the construction's bound)."""

    passed: bool
    max_error: float
    tol: float
    worst_window: int
    worst_bin: int
    windows: int
    note: str | None = None


class ModelResult(BaseModel):
    init: str
    cell: str  # "contract (tanh input gate)" or "nn.LSTM (sigmoid input gate)"
    parameterization: str  # "natural units" or "raw"
    params: int
    curve: list[CurvePoint]
    test_loss: float  # normalized MSE on the test signals, final weights
    test_max_rel_error: float  # worst window of max_k |P^-P| / max_k P over the test signals
    test_median_rel_error: float
    drift_from_init: dict[str, float | None]  # relative Frobenius change per weight_hh block
    # the same in the trained parameters' units (theta = W / scale; = drift_from_init for raw)
    drift_natural: dict[str, float | None]
    distance_to_construction: dict[str, float | None]  # same, measured from the exact construction
    # distance to the construction in the model's units, at init and after training
    construction_distance_natural_init: dict[str, float | None]
    construction_distance_natural: dict[str, float | None]
    verify: VerifySummary
    checkpoint: str
    heatmap: str
    seconds: float


class SpectraLSTMTrainReport(Report):
    """``spectral train spectra-lstm``: the comparison of initialisations (final weights)."""

    command: str = "train"
    family: str = "spectra-lstm"
    window: int
    hidden_size: int
    dtype: str
    input_bound: float
    loss_normalizer: float  # mean(P^2) over the training targets
    steps: int
    models: list[ModelResult]
    wall_seconds: float
    resumed: bool = False
    files: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            f"{m.init}: test nMSE {m.test_loss:.3g}, drift {m.drift_natural.get('all') or 0:.2g}, "
            f"verify {'pass' if m.verify.passed else 'fail'} ({m.verify.max_error:.2g})"
            for m in self.models
        ]
        return f"spectra-lstm T={self.window}, {self.steps} steps: " + "; ".join(parts)
