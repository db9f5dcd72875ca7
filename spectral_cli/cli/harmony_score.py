"""``spectral harmony-score``: resolve the config, call :mod:`spectral_cli.harmony.score`.

Each flag is shorthand for a key of the command's config
(:class:`~spectral_cli.harmony.score.ScoreConfig`): defaults < ``--config`` < ``--set`` < flags.
"""

from __future__ import annotations

from pathlib import Path

from spectral_cli.cli.flags import (
    Flag,
    FlagValues,
    config_flags,
    printed_config,
    resolve_options,
)
from spectral_cli.cli.options import (
    ConfigOpt,
    DeviceOpt,
    HarmonySeedOpt,
    JsonOpt,
    OutOpt,
    OverwriteOpt,
    PlotsOpt,
    PrintConfigOpt,
    QuietOpt,
    SetOpt,
    Shared,
    ThreadsOpt,
    VerboseOpt,
)
from spectral_cli.cli.output import emit, log
from spectral_cli.core.errors import BadInput

SCORE_FLAGS = [
    Flag(
        "--vectors",
        "vectors",
        Path,
        "Latent vectors: .json list of equal-length lists, .npy, "
        "or .safetensors (one tensor or one named 'latents').",
    ),
    Flag(
        "--checkpoint",
        "checkpoint",
        Path,
        "A 'spectral train hae' model.safetensors: score "
        "its latents of valid vs generated invalid signals (AUROC, histogram).",
    ),
    Flag(
        "--data",
        "data",
        str,
        "With --checkpoint: mnist1d (default; its test split) or an .npz/.npy of signals.",
    ),
    Flag(
        "--variant",
        "variant",
        str,
        "original | fixed (default fixed; with --checkpoint the model's own; "
        "seed: deprecated name of original).",
    ),
    Flag(
        "--critical-band",
        "critical_band",
        str,
        "original | hutchinson-knopoff | sethares (default: the variant's own; "
        "seed: deprecated name of original).",
    ),
    Flag("--alpha", "alpha", float, "Weight of the alignment (--vectors; default 1)."),
    Flag("--beta", "beta", float, "Weight of the dissonance (--vectors; default 0.5)."),
]


@config_flags(SCORE_FLAGS, panel="Scoring options")
def harmony_score(
    *,
    flags: FlagValues,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    device: DeviceOpt = "auto",
    seed: HarmonySeedOpt = None,
    out: OutOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    overwrite: OverwriteOpt = False,
    threads: ThreadsOpt = None,
    plots: PlotsOpt = True,
    print_config: PrintConfigOpt = False,
) -> None:
    """Score latent vectors with the harmony/dissonance measures, or a trained HAE's latents.

    Examples: spectral harmony-score --vectors z.npy --json;
    spectral harmony-score --checkpoint runs/hae/model.safetensors --out runs/hae-score
    """
    shared = Shared.of(locals())
    from spectral_cli.core.deprecation import deprecation_notes
    from spectral_cli.core.runs import RunDir
    from spectral_cli.harmony import score as harmony_report

    with deprecation_notes(lambda note: log(shared, f"note: {note}")):
        cfg = resolve_options(harmony_report.ScoreConfig, "harmony-score", flags, shared)
    if printed_config(cfg, shared, "harmony-score"):  # the defaults, with or without an input
        return
    if (cfg.vectors is None) == (cfg.checkpoint is None):
        raise BadInput("pass exactly one of --vectors FILE or --checkpoint RUN/model.safetensors")
    from spectral_cli.core.device import resolve_device

    dev = resolve_device(shared.device)  # an absent CUDA is exit 2 for --vectors too
    report: harmony_report.HarmonyScoreReport | harmony_report.HarmonyCheckpointReport
    if cfg.vectors is not None:
        report = harmony_report.score_vectors(
            cfg.vectors, cfg.variant or "fixed", cfg.critical_band, cfg.alpha, cfg.beta
        )
        if shared.out is not None:  # scoring a file writes no run directory unless asked to
            with RunDir.open(
                shared.out, "harmony-score", cfg.vectors.stem, overwrite=shared.overwrite
            ) as run_dir:
                harmony_report.save_run(run_dir, cfg, report)
    else:
        assert cfg.checkpoint is not None
        if not cfg.checkpoint.is_file():
            raise BadInput(f"--checkpoint {cfg.checkpoint} does not exist")
        harmony_report.load_hae(cfg.checkpoint, dev)  # refuse a foreign file before a run dir
        with RunDir.open(
            shared.out, "harmony-score", cfg.checkpoint.parent.name, overwrite=shared.overwrite
        ) as run_dir:  # a bad --data file leaves no directory behind
            report = harmony_report.score_checkpoint(
                cfg.checkpoint,
                cfg.data,
                run_dir,
                dev,
                cfg.seed,
                cfg.variant,
                cfg.critical_band,
                plots=shared.plots,
            )
            harmony_report.save_run(run_dir, cfg, report)
        if shared.details:
            log(shared, f"wrote {run_dir}")
    emit(shared, report, report.summary())
