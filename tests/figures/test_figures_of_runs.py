"""The figures real runs draw, caught as Figure objects on their way to ``save_figure``: the
defects found by opening every PNG of small runs, checked through the entry points that the
previous release has too (``run_experiment``, ``score_checkpoint``, ``comparison_plot``), so
each of these tests fails on that release's code and passes now."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from figure_checks import data_lines, integral, outside_axes, verticals, visible_ticks

from spectral_cli.core.plots import pyplot
from spectral_cli.core.registry import get_family
from spectral_cli.core.resolve import resolve_train_config


@contextlib.contextmanager
def caught_figures() -> Iterator[dict[str, Any]]:
    """file name -> Figure of every figure saved in the block (nothing is written)."""
    import spectral_cli.core.plots as plots_module
    import spectral_cli.harmony.plots
    import spectral_cli.hmlp.plots  # noqa: F401

    real = plots_module.save_figure
    figures: dict[str, Any] = {}

    def keep(fig: Any, path: Path) -> Path:
        figures[Path(path).name] = fig
        return Path(path)

    with pytest.MonkeyPatch.context() as mp:
        for name, module in list(sys.modules.items()):
            if name.startswith("spectral_cli") and getattr(module, "save_figure", None) is real:
                mp.setattr(module, "save_figure", keep)
        try:
            yield figures
        finally:  # a module first imported in the block bound the stand-in: give it the real one
            for module in list(sys.modules.values()):
                if getattr(module, "save_figure", None) is keep:
                    module.save_figure = real


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    pyplot().close("all")


def train(tmp_path: Path, family: str, *sets: str) -> dict[str, Any]:
    from spectral_cli.core.pipeline import run_experiment

    torch.set_num_threads(1)
    cfg = resolve_train_config(family, None, [*get_family(family).smoke, *sets])
    with caught_figures() as figures:
        run_experiment(cfg, tmp_path / "run", torch.device("cpu"))
    return figures


def axes_of(fig: Any) -> list[Any]:
    return [ax for ax in fig.axes if ax.axison and data_lines(ax)]


def model_of(line: Any) -> str:
    return str(line.get_label()).split()[0]


def test_classifier_curves_of_a_one_epoch_run(tmp_path: Path) -> None:
    fig = train(tmp_path, "mlp", "train.epochs=1")["curves.png"]
    axes = axes_of(fig)
    assert axes, "no panel draws anything"
    for ax in axes:
        lines = data_lines(ax)
        assert all(line.get_marker() not in (None, "None", "") for line in lines)  # 1 point
        assert integral(visible_ticks(ax))
        # a panel that draws train and validation accuracy is not labelled "val_acc"
        assert ax.get_ylabel() not in {"val_acc", "train_acc"}
    assert "run" in fig._suptitle.get_text()  # the run directory names the figure


def test_hae_objectives_are_apart_and_the_curriculum_is_marked(tmp_path: Path) -> None:
    figures = train(tmp_path, "hae", "model.baseline=sae", "train.epochs=8")
    fig = figures["curves.png"]
    for ax in axes_of(fig):
        if ax.get_ylabel() == "loss":  # the objectives: never HAE and SAE on one axis
            assert len({model_of(line) for line in data_lines(ax)}) == 1, ax.get_title()
    cfg = resolve_train_config("hae", None, [*get_family("hae").smoke, "train.epochs=8"])
    from spectral_cli.harmony.objective import Curriculum

    bounds = Curriculum(cfg.model, 8).bounds
    starts = {b + 0.5 for b in bounds[:-1] if 0 < b < 8}
    assert starts and all(starts <= set(verticals(ax)) for ax in axes_of(fig))

    hist = figures["harmony_hist.png"]
    for ax in hist.axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        kinds = [label for label in labels if label.startswith("invalid")]
        assert len(kinds) == 3  # noise, shuffle, mixture: not one lumped "invalid"
        assert "AUROC" in ax.get_title()


def test_spectra_lstm_curves(tmp_path: Path) -> None:
    fig = train(tmp_path, "spectra-lstm", "train.compare=true")["curves.png"]
    axes = axes_of(fig)
    assert all(ax.get_yscale() == "log" for ax in axes)  # the README: log scale
    last = max(float(x) for ax in axes for line in data_lines(ax) for x in line.get_xdata())
    for ax in axes:
        assert set(verticals(ax)) == {last}  # the family keeps the last weights
        assert integral(visible_ticks(ax))
    assert any(0.0 in list(line.get_xdata()) for ax in axes for line in data_lines(ax))  # step 0
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    assert legends and all(outside_axes(fig, legend) for legend in legends)


def test_an_mlp_run_draws_no_activation_curves(tmp_path: Path) -> None:
    assert "activations.png" not in train(tmp_path, "mlp")


def test_harmony_score_names_the_run_and_shows_the_auroc(tmp_path: Path, trained_run) -> None:
    from spectral_cli.core.runs import RunDir
    from spectral_cli.harmony.score import score_checkpoint

    checkpoint = trained_run("hae").out / "model.safetensors"
    out = tmp_path / "my-score"
    out.mkdir()
    with caught_figures() as figures:
        score_checkpoint(checkpoint, "mnist1d", RunDir(out), torch.device("cpu"), 0)
    fig = figures["harmony_hist.png"]
    title = fig._suptitle.get_text()
    assert "my-score" in title and f"{checkpoint.parent.name}/model.safetensors" in title
    assert all("AUROC" in ax.get_title() for ax in fig.axes)


def test_tune_comparison_clips_intervals_and_keeps_legends_off_the_data(tmp_path: Path) -> None:
    from tune_reports import report, result

    from spectral_cli.tuning.report import comparison_plot

    fams = {
        "standard": result("val_acc", "test_acc", [0.12, 0.14], [0.1, 0.12, 0.11]),
        "hae": result("val_loss", "test_auroc", [0.7, 0.72], [0.5, 0.4, 0.3]),
    }
    with caught_figures() as figures:
        comparison_plot(report(fams), tmp_path / "comparison.png")
    fig = figures["comparison.png"]
    for ax in fig.axes:
        for collection in ax.collections:
            for segment in getattr(collection, "get_segments", list)():
                assert min(y for _, y in segment) >= 0, ax.get_title()  # no CI below 0 %
        legend = ax.get_legend()
        if legend is not None:
            assert outside_axes(fig, legend)
            assert not any("pruned" in t.get_text() for t in legend.get_texts())
        if ax.get_xlabel() == "trial":
            assert integral(visible_ticks(ax))
