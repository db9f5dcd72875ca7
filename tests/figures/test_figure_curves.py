"""``curves.png`` (core/curves.py) of every kind of family, built from hand-made histories and
checked through the Figure: one unit per axis, integer epoch/step ticks, log axes that label
their ticks, markers on single points, the kept epoch where the family keeps it, step 0, the
curriculum phases, the legend below the panels and a title that names the run."""

from __future__ import annotations

import math

import pytest
from figure_checks import (
    data_lines,
    integral,
    labelled_ticks,
    outside_axes,
    shown_axes,
    verticals,
    visible_ticks,
)

from spectral_cli.core.curves import CLASSIFIER, ModelCurve, build_training_curves
from spectral_cli.core.plots import pyplot
from spectral_cli.core.registry import get_family


def classifier_history(epochs: int, loss0: float = 2.4, decay: float = 0.9) -> list[dict]:
    return [
        {
            "epoch": float(e),
            "loss": loss0 * decay**e,
            "val_loss": loss0 * decay**e + 0.05,
            "train_acc": 0.1 + 0.02 * e,
            "val_acc": 0.1 + 0.015 * e,
        }
        for e in range(1, epochs + 1)
    ]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    pyplot().close("all")


def test_classifier_panels_are_loss_and_accuracy_with_their_own_units() -> None:
    fig = build_training_curves(
        [ModelCurve("standard", classifier_history(3), kept_epoch=3)],
        CLASSIFIER,
        "runs/std: standard (seed 0)",
        select="val_acc",
    )
    loss, acc = shown_axes(fig)
    assert loss.get_ylabel() == "cross-entropy loss"
    # the accuracy panel draws train and validation accuracy: its label names the unit, not
    # one metric (it said "val_acc" over both lines)
    assert acc.get_ylabel() == "accuracy (%)"
    assert sorted(line.get_label() for line in data_lines(acc)) == [
        "standard train",
        "standard validation",
    ]
    assert max(max(line.get_ydata()) for line in data_lines(acc)) > 1  # percent, not fractions
    for ax in (loss, acc):
        ticks = visible_ticks(ax)
        assert ticks and integral(ticks), ticks  # no 1.2, 1.4 epochs
        assert verticals(ax) == [3.0]  # the kept epoch
    assert "runs/std" in fig._suptitle.get_text()


def test_a_one_epoch_run_draws_its_single_points_with_markers() -> None:
    fig = build_training_curves(
        [ModelCurve("mlp", classifier_history(1), kept_epoch=1)], CLASSIFIER, "t", select="val_acc"
    )
    for ax in shown_axes(fig):
        lines = data_lines(ax)
        assert lines and all(len(line.get_xdata()) == 1 for line in lines)
        assert all(line.get_marker() not in (None, "None", "") for line in lines)


def test_a_narrow_loss_stays_linear_with_several_plain_tick_labels() -> None:
    fig = build_training_curves(
        [ModelCurve("m", classifier_history(3, 2.4, 0.85), kept_epoch=3)], CLASSIFIER, "t"
    )
    loss = shown_axes(fig)[0]
    assert loss.get_yscale() == "linear"  # 1.5-2.1: not three decades
    labels = labelled_ticks(loss)
    assert len(labels) >= 3 and not any("10^" in t or "times" in t for t in labels), labels


def test_a_loss_spanning_decades_is_log_and_labels_several_ticks() -> None:
    fig = build_training_curves(
        [ModelCurve("m", classifier_history(40, 2.4, 0.7), kept_epoch=40)], CLASSIFIER, "t"
    )
    loss = shown_axes(fig)[0]
    assert loss.get_yscale() == "log"
    assert len(labelled_ticks(loss)) >= 3


def test_the_legend_sits_below_the_panels_not_over_the_data() -> None:
    models = [
        ModelCurve(name, classifier_history(5), kept_epoch=4) for name in ("hmlp", "mlp", "x")
    ]
    fig = build_training_curves(models, CLASSIFIER, "t", select="val_acc")
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    assert outside_axes(fig, fig.legends[0])


def hae_history(epochs: int, sae: bool = False) -> list[dict]:
    return [
        {
            "epoch": float(e),
            "loss": 1.0 - (0.02 if sae else 0.2) * e,
            "val_loss": 0.9 - (0.02 if sae else 0.2) * e,
            "val_auroc": 0.5 + 0.01 * e,
            "val_mse": 0.9 - 0.01 * e,
        }
        for e in range(1, epochs + 1)
    ]


def test_hae_and_sae_objectives_get_one_axis_each_and_the_phases_are_marked() -> None:
    from spectral_cli.harmony.models import HAERunConfig

    family = get_family("hae")
    assert family.curves is not None and family.curves.marks is not None
    cfg = HAERunConfig.model_validate({"family": "hae", "train": {"epochs": 30}})
    marks = family.curves.marks(cfg)
    fig = build_training_curves(
        [
            ModelCurve("hae", hae_history(30), kept_epoch=30),
            ModelCurve("sae", hae_history(30, sae=True), kept_epoch=30),
        ],
        family.curves,
        "t",
        marks=marks,
    )
    axes = shown_axes(fig)
    objectives = [ax for ax in axes if ax.get_title().endswith("objective")]
    assert [ax.get_title() for ax in objectives] == ["hae: objective", "sae: objective"]
    for ax in objectives:  # never the HAE objective (to -5) and the SAE's on one axis
        assert len({line.get_color() for line in data_lines(ax)}) == 1
    for ax in axes:  # one unit per axis: AUROC and MSE are panels of their own
        assert len({line.get_label().split()[-1] for line in data_lines(ax)}) <= 2
    starts = [x for x, _ in marks]
    assert starts and all(x % 1 == 0.5 for x in starts)  # between two epochs
    # the curriculum's boundaries (model.curriculum x train.epochs): the document's 10 and 20
    from spectral_cli.harmony.objective import Curriculum

    bounds = Curriculum(cfg.model, 30).bounds
    assert [x - 0.5 for x in starts] == [b for b in bounds[:-1] if 0 < b < 30]
    for ax in axes:
        assert set(starts) <= set(verticals(ax))


def lstm_history(steps: int, start: float, end: float) -> list[dict]:
    out = []
    for i in range(1, steps + 1):
        value = start * (end / start) ** (i / steps)
        out.append({"epoch": float(i), "step": 2.0 * i, "loss": value, "val_loss": value})
    return out


def test_spectra_lstm_curves_are_log_with_step_zero_and_the_last_step_kept() -> None:
    family = get_family("spectra-lstm")
    assert family.curves is not None
    models = [
        ModelCurve("exact", lstm_history(4, 1e-18, 1e-3), 4, "last", {"val_loss": 5e-32}),
        ModelCurve("perturbed", lstm_history(4, 1e-3, 2e-3), 4, "last", {"val_loss": 1e-3}),
        ModelCurve("random", lstm_history(4, 0.9, 0.8), 4, "last", {"val_loss": 1.0}),
        ModelCurve("standard", lstm_history(4, 0.8, 0.7), 4, "last", {"val_loss": 1.0}),
    ]
    fig = build_training_curves(models, family.curves, "t", unit="step", select="val_loss")
    axes = shown_axes(fig)
    assert axes and all(ax.get_yscale() == "log" for ax in axes)  # as the README says
    for ax in axes:
        assert len(labelled_ticks(ax)) >= 3
        assert set(verticals(ax)) == {8.0}  # the family keeps the last step, not the best
        assert integral(visible_ticks(ax))
        assert ax.get_ylabel() == "nMSE"
    validation = next(ax for ax in axes if "validation" in ax.get_title())
    exact = next(line for line in data_lines(validation) if line.get_label().startswith("exact"))
    assert exact.get_xdata()[0] == 0 and math.isclose(exact.get_ydata()[0], 5e-32)
    assert len(fig.legends) == 1 and outside_axes(fig, fig.legends[0])
    assert "last step" in " ".join(t.get_text() for t in fig.legends[0].get_texts())


def test_values_at_or_below_zero_on_a_log_panel_are_floored_and_said_so() -> None:
    family = get_family("spectra-lstm")
    assert family.curves is not None
    history = lstm_history(3, 1e-4, 1e-2)
    history[0]["val_loss"] = 0.0
    fig = build_training_curves([ModelCurve("exact", history, 3, "last")], family.curves, "t")
    validation = next(ax for ax in shown_axes(fig) if "validation" in ax.get_title())
    assert validation.get_yscale() == "log"
    assert "drawn at" in validation.get_title()
    assert min(data_lines(validation)[0].get_ydata()) > 0
