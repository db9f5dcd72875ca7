"""Runner of ``hmlp``/``mlp``: :func:`train_run`, plus the sibling family when ``train.compare``.

With ``--compare`` (``train.compare=true``) the run trains its own family into the run directory
and then the sibling (``mlp`` for ``hmlp``, ``hmlp`` for ``mlp``) into ``compare-<sibling>/``
inside it, with the same seed, data and ``train`` settings and the same widths; only the three
harmonic switches (activation, init, freq_optimizer) take the sibling's defaults. Both go through
the same generic loop; ``compare_curves.png`` overlays their curves and the report's
``extras.compare`` holds the sibling's figures. ``--resume`` continues whichever part was cut.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spectral_cli.config.schema import RunConfig
from spectral_cli.errors import Interrupted
from spectral_cli.io.report import TrainReport, write_report
from spectral_cli.io.rundir import STATE_FILE
from spectral_cli.models.registry import get_family
from spectral_cli.training.interrupt import StopFlag
from spectral_cli.training.loop import Observer
from spectral_cli.training.run import config_class, train_run

SIBLING = {"hmlp": "mlp", "mlp": "hmlp"}
SWITCHES = ("activation", "init", "freq_optimizer")


class CompareTrainReport(TrainReport):
    """A train report whose terminal line also gives the sibling's test accuracy."""

    def summary(self) -> str:
        other = self.extras.get("compare")
        line = super().summary()
        if other and other.get("test_acc") is not None:
            line += f" | {other['family']}: test acc {other['test_acc']:.4f} (same seed)"
        return line


def sibling_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` for the sibling family: same everything but the harmonic switches and compare."""
    family = SIBLING[cfg.family]
    spec = get_family(family)
    defaults = spec.config_cls()
    data = cfg.model_dump(mode="json")
    data["family"] = family
    data["model"].update({k: getattr(defaults, k) for k in SWITCHES})
    data["train"]["compare"] = False
    return config_class(spec).model_validate(data)


def train_with_compare(
    cfg: RunConfig,
    run_dir: Path,
    device: torch.device,
    *,
    resume: bool = False,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
    **options: Any,
) -> TrainReport:
    """Train ``cfg`` (and its sibling when ``cfg.train.compare``); return the main report."""
    report = train_run(cfg, run_dir, device, resume=resume, observer=observer, stop=stop, **options)
    if not getattr(cfg.train, "compare", False):
        return report
    other = sibling_config(cfg)
    sub = run_dir / f"compare-{other.family}"
    sub.mkdir(exist_ok=True)
    if observer is not None:
        observer.log(f"--compare: training {other.family} with seed {other.seed} -> {sub}")
    try:
        other_report = train_run(
            other,
            sub,
            device,
            resume=resume and (sub / STATE_FILE).is_file(),
            observer=observer,
            stop=stop,
            **options,
        )
    except Interrupted as exc:  # resuming means resuming the whole run, not the sub-directory
        raise Interrupted(str(exc).replace(str(sub), str(run_dir))) from None
    from spectral_cli.io.harmonic_plots import compare_curves

    m, o = report.metrics, other_report.metrics
    compare_curves(
        {
            cfg.family: report.model_dump()["history"],
            other.family: other_report.model_dump()["history"],
        },
        f"{cfg.family} vs {other.family} (seed {cfg.seed}, {report.data.source.split(' ')[0]})",
        run_dir / "compare_curves.png",
    )
    extras = dict(report.extras)
    extras["compare"] = {
        "family": other.family,
        "run_dir": sub.name,
        "test_acc": o.test_acc,
        "val_acc": o.val_acc,
        "best_epoch": o.best_epoch,
        "seconds_per_epoch": other_report.timing.seconds_per_epoch,
        "test_acc_difference": None
        if m.test_acc is None or o.test_acc is None
        else m.test_acc - o.test_acc,
    }
    files = {**report.files, "compare_curves": "compare_curves.png", "compare_run": sub.name}
    data = report.model_dump()
    data.update(extras=extras, files=files)
    final = CompareTrainReport.model_validate(data)
    write_report(run_dir / "report.json", final)
    return final
