"""``activations.png`` (hmlp/plots.py): harmonic layers only; a plain ReLU ``mlp`` run draws
none (its neurons all share max(0, z): the old figure showed five identical ReLU curves)."""

from __future__ import annotations

import pytest
import torch
from figure_checks import outside_axes, shown_axes

from spectral_cli.core.plots import pyplot
from spectral_cli.hmlp.layer import HarmonicLayer
from spectral_cli.hmlp.plots import build_activation_curves, harmonic_layers


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    pyplot().close("all")


def test_relu_layers_have_no_activation_panel() -> None:
    relu = HarmonicLayer(8, 5, activation="relu", init="standard")
    harmonic = HarmonicLayer(8, 5, max_freq=5.0)
    assert harmonic_layers([relu, relu]) == []
    assert harmonic_layers([relu, harmonic]) == [harmonic]


def test_each_drawn_neuron_has_its_own_frequency_and_the_legend_is_outside() -> None:
    torch.manual_seed(0)
    fig = build_activation_curves([HarmonicLayer(8, 12, max_freq=5.0)], "run: hmlp")
    [ax] = shown_axes(fig)
    labels = [line.get_label() for line in ax.get_lines()]
    freqs = [label.split("f = ")[1] for label in labels]
    assert len(freqs) == len(set(freqs)) >= 2
    curves = [tuple(line.get_ydata()[::50]) for line in ax.get_lines()]
    assert len(set(curves)) == len(curves)  # no two identical curves
    assert outside_axes(fig, ax.get_legend())


def test_an_mlp_run_writes_no_activation_figure_and_hmlp_does(trained_run) -> None:
    assert not (trained_run("mlp").out / "activations.png").exists()
    assert (trained_run("hmlp").out / "activations.png").is_file()
