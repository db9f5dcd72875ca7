"""Options every subcommand shares, declared once (docs/architecture.md, "Shared options").

Each shared option is a module-level ``Annotated`` type; a command lists the ones it takes as
ordinary keyword parameters (defaults after ``=``, in the order below, which is the ``--help``
order) and gathers them into one :class:`Shared` value as its first statement::

    def ntk(*, config: ConfigOpt = None, ..., print_config: PrintConfigOpt = False) -> None:
        shared = Shared.of(locals())

A parameter's name is its :class:`Shared` field. Where a command's help differs it uses its own
variant (``TuneSeedOpt``, ``ExportOutOpt``, ...). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

PANEL = "Common options"


@dataclass(frozen=True)
class Shared:
    """The shared options of one invocation."""

    config: Path | None = None
    sets: tuple[str, ...] = ()
    device: str = "auto"
    seed: int | None = None
    out: Path | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    overwrite: bool = False
    resume: bool = False
    print_config: bool = False
    threads: int | None = None
    logger: tuple[str, ...] = ()
    plots: bool = True

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Shared:
        """The shared options among a command's parameters (its ``locals()`` before anything
        else); a command without an option gets the field's default. ``--threads`` takes
        effect here, before the command computes anything."""
        values = {f.name: params[f.name] for f in fields(cls) if f.name in params}
        values["sets"] = tuple(values.get("sets") or ())
        values["logger"] = tuple(values.get("logger") or ())
        if values.get("threads") is not None:
            import torch

            torch.set_num_threads(values["threads"])
        return cls(**values)

    @property
    def logs(self) -> bool:
        """Whether logs and notes go to stderr (not with ``--quiet``)."""
        return not self.quiet

    @property
    def details(self) -> bool:
        """Whether ``--verbose`` details go to stderr."""
        return self.verbose and not self.quiet


def _option(*decls: str, help: str, **kw: Any) -> Any:
    return typer.Option(*decls, help=help, rich_help_panel=PANEL, **kw)


def _seed(help: str) -> Any:
    return _option("--seed", metavar="N", help=help)


def _out(metavar: str, help: str) -> Any:
    return _option("--out", metavar=metavar, help=help)


def _resume(help: str) -> Any:
    return _option("--resume", help=help)


ConfigOpt = Annotated[
    Path | None,
    _option(
        "--config",
        dir_okay=False,
        metavar="FILE",
        help="YAML config; layered over the defaults, under --set and the flags.",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    _option(
        "--set",
        metavar="KEY=VALUE",
        help="Dotted override, repeatable (e.g. --set train.lr=0.003).",
    ),
]
DeviceOpt = Annotated[
    str,
    _option(
        "--device", metavar="DEVICE", help="auto | cpu | cuda | cuda:N (auto = CUDA if present)."
    ),
]
SeedOpt = Annotated[int | None, _seed("Random seed (default: the config's, 0).")]
OutOpt = Annotated[
    Path | None,
    _out(
        "DIR",
        "Run directory (default runs/<command>-<name>-<timestamp>); "
        "an existing non-empty one needs --overwrite or --resume.",
    ),
]
JsonOpt = Annotated[
    bool, _option("--json", help="Print the final report as JSON on stdout, nothing else.")
]
QuietOpt = Annotated[
    bool,
    _option(
        "--quiet",
        "-q",
        help="No logs, notes or progress on stderr (errors still); "
        "the result still goes to stdout.",
    ),
]
VerboseOpt = Annotated[
    bool, _option("--verbose", "-v", help="More detail on stderr (per-epoch logs).")
]
OverwriteOpt = Annotated[bool, _option("--overwrite", help="Allow writing into a non-empty --out.")]
ResumeOpt = Annotated[bool, _resume("Continue the interrupted run in --out.")]
ThreadsOpt = Annotated[
    int | None,
    _option(
        "--threads",
        metavar="N",
        min=1,
        max=1024,
        help="torch intra-op threads (default: torch's); recorded in the report. On a "
        "busy machine fewer threads can be much faster.",
    ),
]
LoggerOpt = Annotated[
    list[str] | None,
    _option(
        "--logger",
        metavar="NAME",
        help="Also log to: tensorboard (event files under the run directory; "
        "pip install 'spectral-cli[tensorboard]'). metrics.jsonl is always written.",
    ),
]
PlotsOpt = Annotated[
    bool,
    _option(
        "--plots/--no-plots",
        help="Write the figures (default); --no-plots writes the report, logs and "
        "checkpoints only (spectral plot RUN draws them later).",
    ),
]
PrintConfigOpt = Annotated[
    bool,
    _option(
        "--print-config",
        help="Print the resolved config as YAML (what --config accepts) and exit; creates nothing.",
    ),
]

# the variants: where a command's --seed, --resume or --out means something else
TuneSeedOpt = Annotated[
    int | None, _seed("Seed of the sampler, the trials and the first final run (default 0).")
]
TuneResumeOpt = Annotated[
    bool, _resume("Continue the study stored in --out (adds --trials trials).")
]
HarmonySeedOpt = Annotated[
    int | None,
    _seed(
        "Seed of the generated invalid signals (--checkpoint; default: the run's own test "
        "invalid set, data.invalid_seed + 1, as in its report.json)."
    ),
]
ExportSeedOpt = Annotated[int | None, _seed("Seed of the random parity inputs (default 0).")]
ExportOutOpt = Annotated[
    Path | None,
    _out(
        "FILE",
        "The exported file (default, in the run directory or next to the checkpoint: "
        "named after --model NAME if given, NAME.onnx, NAME-dense.safetensors, "
        "NAME-<dtype>.safetensors, else after the checkpoint file, model.onnx, ...); "
        "an existing one needs --overwrite.",
    ),
]
PredictSeedOpt = Annotated[int | None, _seed("Refused: prediction draws nothing at random.")]
PredictOutOpt = Annotated[
    Path | None,
    _out(
        "FILE",
        "The predictions, .npz or .csv (default: INPUT-predictions.npz next "
        "to the input); an existing one needs --overwrite.",
    ),
]
