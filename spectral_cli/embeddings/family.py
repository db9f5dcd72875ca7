"""Registers the token-classifier families ``standard``, ``factorized`` and ``hpe``.

Their models and ``model.*`` schemas are in :mod:`spectral_cli.embeddings.models`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from spectral_cli.core.registry import (
    ExportSignature,
    Family,
    RawInput,
    TensorSpec,
    TrainedRun,
    register,
)
from spectral_cli.core.schema import Frozen, run_config_class
from spectral_cli.core.tasks import classifier_finish, classifier_task
from spectral_cli.embeddings.hpe import HarmonicEmbedding
from spectral_cli.embeddings.models import (
    FactorizedConfig,
    HPEConfig,
    StandardConfig,
    build_factorized,
    build_hpe,
    build_standard,
)
from spectral_cli.embeddings.quantize import quantize
from spectral_cli.embeddings.tokens import load_token_data


def hpe_figures(run: TrainedRun) -> dict[str, str]:
    """Heatmap of the learned V x D table and a histogram of the learned frequencies."""
    from spectral_cli.core import plots

    model, run_dir = run.models[0].model, run.run_dir
    emb = model.embedding
    assert isinstance(emb, HarmonicEmbedding)
    with torch.no_grad():
        table = emb.weight.detach().float().cpu().numpy()
        freqs = emb.frequencies.detach().float().cpu().numpy()
    name = run_dir.path.resolve().name
    heat = plots.embedding_heatmap(
        table, f"{name}: learned HPE embedding table", run_dir / "hpe_embedding.png"
    )
    hist = plots.histogram(
        freqs, "frequency w", f"{name}: learned HPE frequencies", run_dir / "hpe_frequencies.png"
    )
    return {"embedding_heatmap": heat.name, "frequency_histogram": hist.name}


def _family(
    name: str,
    config: type[Frozen],
    build: Any,
    figures: Callable[[TrainedRun], dict[str, str]] | None = None,
    **extra: Any,
) -> Family:
    from spectral_cli.core.registry import FAMILY_MODULES

    return register(
        Family(
            name=name,
            description=FAMILY_MODULES[name][1],
            config=run_config_class(name, config),
            data=lambda cfg: load_token_data(cfg.data),
            build=lambda cfg, info: build(cfg.model, info),
            task=classifier_task,
            finish=classifier_finish(),
            figures=figures,
            **extra,
        )
    )


def _token_export(**extra: Any) -> ExportSignature:
    """int64 ``tokens`` [batch, 40] -> ``logits`` [batch, 10]; ``predict`` quantizes raw signals."""
    return ExportSignature(
        kind="classifier",
        input=TensorSpec("tokens", "int64", ("batch", "seq_len"), high="vocab_size"),
        outputs=(TensorSpec("logits", "float32", ("batch", "num_classes")),),
        raw=RawInput(
            TensorSpec("signal", "float32", ("batch", "seq_len")),
            lambda cfg, info, x: quantize(x, cfg.data.n_tokens, cfg.data.clamp),
            "raw signals, quantized with the run's data.n_tokens and data.clamp",
        ),
        **extra,
    )


STANDARD = _family(
    "standard",
    StandardConfig,
    build_standard,
    export=_token_export(unsupported={"dense": "its embedding is already a dense V x D table"}),
)
FACTORIZED = _family(
    "factorized", FactorizedConfig, build_factorized, export=_token_export(dense_into="standard")
)
HPE = _family(
    "hpe",
    HPEConfig,
    build_hpe,
    figures=hpe_figures,
    export=_token_export(dense_into="standard", harmonic="embedding"),
)
__all__ = ["FACTORIZED", "HPE", "STANDARD"]
