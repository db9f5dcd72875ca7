"""``spectral plot`` of a ``harmony-score --checkpoint`` run: ``harmony_hist.png`` redrawn from
the run's saved config (the checkpoint and the data it names are scored again; nothing but the
figure is written)."""

from __future__ import annotations

from pathlib import Path

from spectral_cli.core import plots
from spectral_cli.core.errors import BadInput


def replot(run: Path) -> list[Path]:
    """Redraw ``harmony_hist.png`` of a ``harmony-score --checkpoint`` run directory."""
    import json

    import torch

    from spectral_cli.harmony import detection
    from spectral_cli.harmony.invalid import invalid_sets
    from spectral_cli.harmony.objective import score_kwargs
    from spectral_cli.harmony.plots import draw_histogram
    from spectral_cli.harmony.score import load_hae, load_signals

    try:
        report = json.loads((run / "report.json").read_text(encoding="utf-8"))
        config = report["config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(
            f"{run}/report.json is not a readable harmony-score report ({exc})"
        ) from None
    if not isinstance(config, dict) or not config.get("checkpoint"):
        raise BadInput(
            f"{run} scored latent vectors (--vectors): that mode draws no figures; "
            "only a --checkpoint run has harmony_hist.png"
        )
    checkpoint = Path(str(config["checkpoint"]))
    if not checkpoint.is_file():
        raise BadInput(
            f"{run} scored {checkpoint}, which no longer exists (relative paths are read from "
            "the current directory); run spectral plot where the score was made"
        )
    device = torch.device("cpu")
    model, cfg = load_hae(checkpoint, device)
    x, y, _ = load_signals(str(config.get("data", "mnist1d")), model.signal_length)
    kwargs = score_kwargs(cfg.model)
    kwargs["variant"] = str(config.get("variant", kwargs["variant"]))
    band = str(config.get("critical_band") or kwargs["critical_band"])
    kwargs["critical_band"] = band
    invalid = invalid_sets(x, y, int(config.get("invalid_seed", report.get("seed", 0))))
    _, values = detection.detector(model, x, invalid, device, kwargs)
    with plots.figure_format() as drawn:
        draw_histogram(values, checkpoint, kwargs["variant"], band, run)
    return list(drawn.written)
