"""``harmony_hist.png`` (harmony/plots.py): every invalid kind drawn on its own, the valid
distribution never hidden behind them, the AUROC on the panel, and from ``harmony-score``
a title that names the run, not ``model.safetensors``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from figure_checks import outside_axes, shown_axes

from spectral_cli.core.plots import pyplot
from spectral_cli.harmony.plots import build_harmony_histograms


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    pyplot().close("all")


def scores() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "valid": np.full(400, -20.0) + rng.normal(0, 0.01, 400),  # a narrow spike
        "noise": rng.normal(-40, 4, 300),
        "shuffle": rng.normal(-35, 4, 300),
        "mixture": rng.normal(-22, 3, 300),  # overlaps the spike
    }


def test_each_invalid_kind_is_its_own_outline_under_the_valid_histogram() -> None:
    fig = build_harmony_histograms({"hae": scores(), "sae": scores()}, "run-x: test harmony H")
    axes = shown_axes(fig)
    assert len(axes) == 2
    for ax in axes:
        legend = ax.get_legend()
        assert legend is not None and outside_axes(fig, legend)
        labels = [t.get_text() for t in legend.get_texts()]
        assert sum(label.startswith("invalid: ") for label in labels) == 3  # not lumped
        assert any(label.startswith("valid") for label in labels)
        valid = [p for p in ax.patches if p.get_label().startswith("valid")]
        invalid = [p for p in ax.patches if p.get_label().startswith("invalid")]
        assert valid and len(invalid) == 3
        # the valid spike is drawn over the invalid ones, which are outlines only
        assert min(p.get_zorder() for p in valid) > max(p.get_zorder() for p in invalid)
        assert all(not p.get_fill() for p in invalid)
        assert "AUROC" in ax.get_title()
        assert ax.get_ylabel() == "density"  # kinds of different sizes stay comparable


def test_the_bins_cover_the_bulk_and_say_what_they_clip() -> None:
    values = scores()
    values["noise"][:3] = -1e6  # three outliers must not squash the histogram
    fig = build_harmony_histograms({"hae": values}, "t")
    ax = shown_axes(fig)[0]
    assert ax.get_xlim()[0] > -100
    assert "outside" in ax.get_xlabel()


def test_harmony_score_titles_the_figure_with_the_run_and_the_scored_run(tmp_path: Path) -> None:
    from spectral_cli.harmony import plots

    seen = {}

    def keep(values, title, path):  # the figure is checked, not written
        seen["title"] = title
        return path

    out = tmp_path / "score-run"
    checkpoint = tmp_path / "hae-run" / "model.safetensors"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "harmony_histograms", keep)
        plots.draw_histogram(scores(), checkpoint, "fixed", "sethares", out)
    assert seen["title"].startswith("score-run: ")
    assert "hae-run/model.safetensors" in seen["title"]
