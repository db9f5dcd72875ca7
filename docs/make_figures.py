"""Regenerate the figure gallery: docs/figures/*.png and docs/figures.md.

Usage (from the repository root; a few minutes on two CPU cores)::

    python docs/make_figures.py

Runs a small run of every subcommand that draws figures (``train`` for every registered family,
``tune``, ``ntk``, ``verify-lstm``, ``harmony-score``) in a temporary directory, in this process
and on the CPU with one thread, with every figure written at 80 dpi (one
:func:`~spectral_cli.core.plots.figure_format` block around everything), then copies each PNG to
``docs/figures/<run>-<file>.png`` and writes ``docs/figures.md`` with one line per figure on how
to read it. The runs are tiny: the figures show what each one looks like, not results (those are
under docs/results/).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "figures"
PAGE = ROOT / "docs" / "figures.md"
DPI = 80

# a few more epochs than the registry's smoke settings, so that curves have a shape; the
# comparison members (--compare, --baseline) where a family has them
LONGER = {
    "standard": ["--set", "train.epochs=6"],
    "factorized": ["--set", "train.epochs=6"],
    "hpe": ["--set", "train.epochs=6"],
    "hmlp": ["--set", "train.epochs=8", "--compare"],
    "mlp": ["--set", "train.epochs=8"],
    "hae": ["--set", "train.epochs=24", "--baseline", "sae"],
    "spectra-lstm": ["--set", "train.steps=16", "--compare"],
}

# how to read each figure, by file name
READ = {
    "curves.png": "Per model (colour) and split (solid train, dashed validation): one panel per "
    "quantity of its own unit; dotted verticals: the epoch (or step) whose weights the run "
    "kept; dash-dotted grey: the family's marks (the HAE's curriculum phases).",
    "hpe_embedding.png": "The learned V x D harmonic embedding table: rows are tokens, colours "
    "symmetric around 0 and clipped at the 99.5th percentile of |value| (the colour bar says so).",
    "hpe_frequencies.png": "Histogram of the learned HPE frequencies w over all tokens and "
    "harmonics.",
    "activations.png": "a(z) = sin(2 pi z / f) + 0.1 z of up to six neurons with distinct "
    "frequencies f, per harmonic layer (ReLU-only runs draw no such figure).",
    "harmony_hist.png": "Harmony H of valid test signals (filled, on top) and of each generated "
    "invalid kind (outlines), as densities; the titles and legend give the AUROC of H as a "
    "valid-vs-invalid detector, overall and per kind.",
    "weight_hh.png": "The recurrent weight matrix at initialisation, after training and their "
    "difference, block boundaries drawn (natural units for the exact and perturbed cells).",
    "comparison.png": "Left: each family's final test metric over the final seeds (mean, 95 % CI "
    "clipped to the metric's range, grey: seeds); right: the validation value of every trial.",
}


def spectral(*args: object) -> None:
    """``spectral ARGS`` in this process (so the figure format applies); fails loudly."""
    from spectral_cli.cli.main import app

    argv = [str(a) for a in args]
    try:
        app(argv, standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise SystemExit(f"spectral {' '.join(argv)} exited {exc.code}") from None


def run_all(work: Path) -> dict[str, Path]:
    """Every run the gallery shows: label -> run directory."""
    from spectral_cli.core.registry import family_names, get_family

    runs: dict[str, Path] = {}
    common = ["--device", "cpu", "--seed", "0", "--quiet"]
    for family in family_names():
        smoke = [a for item in get_family(family).smoke for a in ("--set", item)]
        out = work / f"train-{family}"
        spectral("train", family, *smoke, *LONGER.get(family, []), *common, "--out", out)
        runs[f"train-{family}"] = out
    tiny = ["--set", "train.epochs=2", "--set", "data.limit=200", "--set", "train.batch_size=64"]
    out = work / "tune"
    spectral(
        "tune",
        "standard",
        "hpe",
        "--trials",
        "3",
        "--final-seeds",
        "3",
        *tiny,
        *common,
        "--out",
        out,
    )
    runs["tune"] = out
    ntk = ["--width", "64", "--depth", "3", "--m", "6", "--train-steps", "200"]
    spectral("ntk", *ntk, *common, "--out", work / "ntk")
    runs["ntk"] = work / "ntk"
    spectral("verify-lstm", "--window", "8", "--quiet", "--out", work / "verify-lstm")
    runs["verify-lstm"] = work / "verify-lstm"
    hae = runs["train-hae"] / "model.safetensors"
    spectral("harmony-score", "--checkpoint", hae, *common, "--out", work / "harmony-score")
    runs["harmony-score"] = work / "harmony-score"
    return runs


def collect(runs: dict[str, Path]) -> list[tuple[str, str, str]]:
    """Copy every PNG of every run to docs/figures; (run label, figure file, source name)."""
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    shown = []
    for label, run in runs.items():
        for png in sorted(run.rglob("*.png")):
            rel = png.relative_to(run).as_posix()
            name = f"{label}-{rel.replace('/', '-')}"
            shutil.copyfile(png, OUT / name)
            shown.append((label, name, rel))
    return shown


def page(shown: list[tuple[str, str, str]]) -> str:
    lines = [
        "# Figures",
        "",
        "Every figure `spectral` draws, from a tiny run of each subcommand (regenerated by "
        "`python docs/make_figures.py`; 80 dpi). The runs are seconds long: the figures show "
        "how to read each kind, not results (docs/results/ has those). `spectral plot RUN` "
        "redraws a run's figures from what it saved (`--format svg|pdf`, `--dpi`).",
        "",
    ]
    current = None
    for label, name, rel in shown:
        if label != current:
            lines += [f"## `{label}`", ""]
            current = label
        how = READ.get(Path(rel).name, "See the command's page under docs/results/.")
        lines += [f"`{rel}`: {how}", "", f"![{label} {rel}](figures/{name})", ""]
    return "\n".join(lines)


def main() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.path.insert(0, str(ROOT))
    import torch

    from spectral_cli.core.plots import figure_format

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cwd = Path.cwd()
        os.chdir(work)  # relative default paths (none expected) stay out of the checkout
        try:
            with figure_format("png", DPI):
                runs = run_all(work)
        finally:
            os.chdir(cwd)
        shown = collect(runs)
    PAGE.write_text(page(shown), encoding="utf-8")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(shown)} figures, {total / 1e6:.2f} MB -> {OUT.relative_to(ROOT)}, {PAGE.name}")


if __name__ == "__main__":
    main()
