"""The figures of a ``spectral train`` run: drawn after training, or redrawn from the run
directory alone (``spectral plot``).

``curves.png`` needs only ``report.json`` (every model's history, selection and extras); the
family's own figures (:attr:`~spectral_cli.core.registry.Family.figures`) need the kept weights
(``model.safetensors``, ``models/<name>.safetensors``) and the family's data, which are loaded
again from the saved config. Nothing is trained and nothing but figures is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spectral_cli.core import plots
from spectral_cli.core.curves import CLASSIFIER, model_curves, training_curves
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import Family, TrainedModel, TrainedRun, get_family
from spectral_cli.core.report import ModelSummary, TrainReport
from spectral_cli.core.runs import MODEL_FILE


def run_title(run_dir: Path, family: str, seed: int) -> str:
    """What every figure of a run is titled with: the run (its directory) and family."""
    return f"{run_dir.resolve().name}: {family} (seed {seed})"


def draw_curves(
    family: Family, cfg: Any, summaries: Mapping[str, ModelSummary], run_dir: Path
) -> dict[str, str]:
    """``curves.png`` of every model of the run (the family's :class:`Curves` panels)."""
    spec = family.curves or CLASSIFIER
    path = training_curves(
        model_curves(summaries, spec),
        spec,
        run_title(run_dir, family.name, cfg.seed),
        run_dir / "curves.png",
        unit="step" if family.unit == "steps" else "epoch",
        select=family.select.name,
        marks=spec.marks(cfg) if spec.marks is not None else [],
    )
    return {"curves": path.name}


def draw_train_figures(
    family: Family, run: TrainedRun, summaries: Mapping[str, ModelSummary]
) -> dict[str, str]:
    """After training: ``curves.png`` and the family's own figures (label -> file)."""
    files = draw_curves(family, run.cfg, summaries, run.run_dir.path)
    if family.figures is not None:
        files.update(family.figures(run))
    return files


def read_train_report(run: Path) -> TrainReport:
    """The run's ``report.json`` as a train report; a corrupt or foreign one is bad input."""
    from pydantic import ValidationError

    try:
        return TrainReport.model_validate_json((run / "report.json").read_bytes())
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInput(f"{run}/report.json is not a readable train report ({first})") from None


def replot(run: Path) -> list[Path]:
    """Redraw every figure of a train run in ``run`` (the current figure format)."""
    import torch

    from spectral_cli.core.checkpoint import load_checkpoint
    from spectral_cli.core.config import validate
    from spectral_cli.core.runs import RunDir

    report = read_train_report(run)
    family = get_family(report.family)
    cfg = validate(family.config, report.config, f"{run}/report.json config")
    summaries = report.models or {family.name: _primary(report, family)}
    members = family.members(cfg)
    files = [RunDir.model_files(i, m.name)[0] for i, m in enumerate(members)]
    missing = [f for f in files if not (run / f).is_file()]
    if family.figures is not None and missing:
        raise BadInput(
            f"{run} lacks {', '.join(missing)}: its {family.name} figures are drawn from the "
            "kept weights"
        )
    with plots.figure_format() as drawn:
        draw_curves(family, cfg, summaries, run)
        if family.figures is None:
            return list(drawn.written)
        data = family.data(cfg)
        device = torch.device("cpu")
        models = []
        for member, file in zip(members, files, strict=True):
            own = get_family(member.cfg.family)  # --compare: the sibling family builds it
            torch.manual_seed(member.seed)
            model = own.build(member.cfg, data.info)
            tensors, _ = load_checkpoint(run / file, member.checkpoint_family or own.name)
            try:
                model.load_state_dict(tensors)
            except RuntimeError as exc:
                raise BadInput(f"{run / file} does not fit the run's config ({exc})") from None
            summary = summaries.get(member.name)
            last = summary is not None and summary.selection.kept == "last"
            models.append(TrainedModel(member, model.eval(), file, "last" if last else "best"))
        family.figures(TrainedRun(cfg, RunDir(run), device, data, models, evaluate_test=False))
    return list(drawn.written)


def _primary(report: TrainReport, family: Family) -> ModelSummary:
    """A report without ``models`` (never written so far, but cheap to accept): its primary."""
    return ModelSummary(
        family=family.name,
        file=MODEL_FILE,
        seed=report.seed,
        params=report.params,
        metrics=report.metrics,
        selection=report.selection,
        history=report.history,
        timing=report.timing,
        extras=report.extras,
    )
