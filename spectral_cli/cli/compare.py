"""``spectral compare A B [C ...]``: metric-by-metric statistics of runs (no tensor math)."""

from __future__ import annotations

import typer


def compare(
    runs: list[str] = typer.Argument(
        ...,
        metavar="RUN...",
        help="Run directories, multi-seed directories (train --seeds) or quoted globs; "
        "at least two.",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the comparison report as JSON on stdout, nothing else."
    ),
) -> None:
    """Compare runs metric by metric: difference of means with its 95 % interval, Welch's or
    the paired t-test, and a direction-aware verdict (inconclusive below 3 seeds a side).

    Example: spectral compare runs/hpe-seeds runs/standard-seeds
    """
    from spectral_cli.core.compare import compare_sides, markdown

    report = compare_sides(runs)
    typer.echo(report.model_dump_json(indent=2) if json_out else markdown(report), nl=json_out)
