"""``comparison.png`` of ``spectral tune`` (tuning/report.py), from hand-made reports: one
panel per metric, integer trial ticks, no "(pruned)" entries without pruned trials, intervals
inside the metric's range, log axes for minimized metrics, legends outside the data."""

from __future__ import annotations

from pathlib import Path

import pytest
from figure_checks import data_lines, integral, labelled_ticks, outside_axes, visible_ticks
from tune_reports import report, result

from spectral_cli.core.plots import pyplot
from spectral_cli.tuning.report import build_comparison_plot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    pyplot().close("all")


def test_one_panel_per_metric_and_percent_intervals_inside_0_100() -> None:
    fams = {
        "standard": result("val_acc", "test_acc", [0.12, 0.14], [0.1, 0.12, 0.11]),
        "hae": result("val_loss", "test_auroc", [0.7, 0.72], [0.5, 0.4, 0.3]),
    }
    fig = build_comparison_plot(report(fams), "tune-run")
    axes = fig.axes
    assert len(axes) == 4  # test_acc, test_auroc, val_acc, val_loss: never two on one axis
    assert fig._suptitle.get_text().startswith("tune-run: ")
    acc = next(ax for ax in axes if ax.get_title().startswith("final test_acc"))
    assert acc.get_ylabel() == "test acc (%)"
    for collection in acc.collections:  # error bars and seed points
        for segment in getattr(collection, "get_segments", list)():
            assert min(y for _, y in segment) >= 0  # the CI is clipped to the metric's range
    for ax in axes:
        if ax.get_xlabel() == "trial":
            assert integral(visible_ticks(ax))
            labels = [t.get_text() for t in ax.get_legend().get_texts()]
            assert not any("pruned" in label for label in labels)
            assert outside_axes(fig, ax.get_legend())
            assert len({line.get_label() for line in data_lines(ax)}) == 1


def test_nmse_is_drawn_on_a_log_axis_with_labelled_ticks() -> None:
    fams = {
        "spectra-lstm": result("val_loss", "test_nmse", [2e-4, 6e-4], [0.9, 3e-3, 4e-4]),
    }
    for fam in fams.values():
        fam.direction = "minimize"
    fig = build_comparison_plot(report(fams), "tune-run")
    nmse = next(ax for ax in fig.axes if ax.get_title().startswith("final test_nmse"))
    assert nmse.get_yscale() == "log"
    trials = next(ax for ax in fig.axes if ax.get_xlabel() == "trial")
    assert trials.get_yscale() == "log" and len(labelled_ticks(trials)) >= 2


def test_replot_of_a_tune_directory_redraws_comparison_png(tmp_path: Path) -> None:
    from spectral_cli.core.plots import figure_format
    from spectral_cli.tuning.report import replot

    fams = {"standard": result("val_acc", "test_acc", [0.12, 0.14], [0.1, 0.12, 0.11])}
    (tmp_path / "report.json").write_text(report(fams).model_dump_json())
    with figure_format("svg", 50):
        [path] = replot(tmp_path)
    assert path == tmp_path / "comparison.svg" and path.read_bytes().lstrip().startswith(b"<")
