"""``spectral ntk`` figures read through their matplotlib objects; ``--no-plots`` and the redraw
of a saved run (``spectral_cli.ntk.plots.replot``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import invoke, read_report

from spectral_cli.core.errors import BadInput
from spectral_cli.core.plots import pyplot

FIGURE_DATA = "figures.npz"


def replot(run: Path) -> list[Path]:
    """The redraw ``spectral plot`` calls (imported here so that each test, not the module,
    fails on code without it)."""
    from spectral_cli.ntk.plots import replot as redraw

    return redraw(run)


def _charts():
    from spectral_cli.ntk import charts

    return charts


TINY = ["--width", "16", "--depth", "3", "--m", "4", "--n-train", "8", "--n-test", "12"]


def _bbox(fig, artist):
    fig.canvas.draw()
    return artist.get_window_extent(fig.canvas.get_renderer())


def _outside(fig, ax) -> bool:
    """The axes' legend lies right of its data area (no overlap)."""
    legend = ax.get_legend()
    return legend is not None and _bbox(fig, legend).x0 >= _bbox(fig, ax.patch).x1


def _integral(ticks) -> bool:
    return bool(np.all(np.asarray(ticks) == np.round(ticks)))


def _curves() -> dict[str, list[float]]:
    i = np.arange(1, 17, dtype=float)
    return {
        "none": [1.0] + [1e-17] * 15,  # rounding noise (the identity mapping's kernel)
        "basic": list(i**-2.0),
        "toy": list(i**-1.0),
    }


def test_spectrum_floor_from_the_informative_curves_and_clipped_curve_marked() -> None:
    fig = _charts().build_spectrum(_curves(), "toy", "run: spectrum")
    [ax] = [a for a in fig.axes if a.get_title()]
    assert ax.get_yscale() == "log"
    floor = _charts().spectrum_floor(_curves())
    # 'basic' reaches 16^-2 = 3.9e-3: the floor is a decade below that, not at the noise
    assert floor == pytest.approx(1e-4)
    assert ax.get_ylim()[0] == pytest.approx(floor / 2) and "floor 1e-04" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("none") and "15 of 16 clipped" in lab for lab in labels)
    assert not any("clipped" in lab for lab in labels if not lab.startswith("none"))
    assert _outside(fig, ax) and _integral(ax.get_xticks())
    # without an informative curve the floor is the relative floor 1e-10
    assert _charts().spectrum_floor({"none": [1.0, 1e-18]}) == _charts().REL_FLOOR


def _dynamics() -> tuple[dict, np.ndarray, np.ndarray]:
    steps = list(range(0, 101, 10))
    decay = np.exp(-np.arange(len(steps)) / 3)
    d = {
        "record_steps": steps,
        "train_mse_curve_network": list(decay),
        "train_mse_curve_ntk": list(decay * 1.1),
        "test_mse_curve_network": list(decay + 0.1),
        "test_mse_curve_ntk": list(decay + 0.11),
    }
    res = np.outer(decay, np.linspace(1, 2, 8))
    return d, res, res * 1.05


def test_dynamics_legends_outside_and_line_styles_named() -> None:
    d, rn, rk = _dynamics()
    fig = _charts().build_dynamics(d, rn, rk, "run: dynamics")
    a, b = [ax for ax in fig.axes if ax.get_title()]
    for ax in (a, b):
        assert ax.get_yscale() == "log" and _outside(fig, ax) and _integral(ax.get_xticks())
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "network" in texts and "NTK" in texts
        styles = {h.get_linestyle() for h in ax.get_legend().legend_handles}
        assert {"-", "--"} <= styles
    assert a.get_ylabel() == "MSE" and "Q" in b.get_ylabel()  # one metric per panel


def _point(value: float, n_steps: int = 6) -> SimpleNamespace:
    steps = np.arange(0, 10 * n_steps, 10)
    return SimpleNamespace(
        value=value,
        test_mse_ntk=0.1,
        test_mse_ntk_std=0.02,
        test_mse_network=0.12,
        test_mse_network_std=0.03,
        steps=steps,
        test_curve_network=np.linspace(1, 0.1, n_steps),
        test_curve_ntk=np.linspace(1, 0.12, n_steps),
        eigvals=np.array([1.0, 0.5, 0.1]),
        profile=(np.linspace(-0.5, 0.5, 9), np.linspace(0.2, 1, 9)),
    )


@pytest.mark.parametrize("n", [1, 3])
def test_sweep_error_bars_only_for_several_signals_and_panel_b_readable(n: int) -> None:
    fig = _charts().build_sweep([_point(0.0), _point(float("inf"))], "p", n, "run: sweep")
    a, b, _c, _d = (ax for ax in fig.axes if ax.get_title())
    has_bars = any(c.has_yerr for c in a.containers)
    assert has_bars == (n > 1)
    assert (f"over {n} signals" in a.get_ylabel()) == (n > 1)
    assert ("1 signal" in a.get_ylabel()) == (n == 1)
    assert b.get_legend() is not None and _integral(b.get_xticks())
    # panel (b): its y label clears its tick labels
    label = _bbox(fig, b.yaxis.label)
    ticks = [_bbox(fig, t) for t in b.get_yticklabels() if t.get_text()]
    assert all(label.x1 <= t.x0 + 0.5 for t in ticks)


def test_report_summary_says_infinite_width_for_the_analytic_kernel(runner, tmp_path) -> None:
    out = tmp_path / "a"
    r = invoke(runner, "ntk", *TINY, "--kernel", "analytic", "--out", out, "--no-plots")
    assert r.exit_code == 0, r.output
    assert "infinite width (analytic)" in r.stdout and "width 16" not in r.stdout


def test_no_plots_writes_no_png_and_replot_draws_each_figure(runner, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [*TINY, "--train-steps", "20", "--out", out, "-q"]
    assert invoke(runner, "ntk", *args, "--no-plots").exit_code == 0
    assert not list(out.rglob("*.png")) and (out / FIGURE_DATA).is_file()
    report = read_report(out)
    assert not any(name.endswith("_plot") for name in report["files"])
    assert "plots" not in report["timing"]
    written = replot(out)
    assert {p.name for p in written} == {"spectrum.png", "kernel_profile.png", "dynamics.png"}
    assert all(p.stat().st_size > 10_000 for p in written)


def test_replot_sweep_run_and_refuse_a_run_without_the_data(runner, tmp_path: Path) -> None:
    out = tmp_path / "s"
    r = invoke(
        runner, "ntk", *TINY, "--sweep-p", "0,inf", "--set", "train.sweep_steps=10", "--out", out
    )
    assert r.exit_code == 0, r.output
    files = read_report(out)["files"]
    drawn = {files[k] for k in files if k.endswith("_plot")}
    assert drawn == {"spectrum.png", "kernel_profile.png", "sweep.png"}
    for name in drawn:
        (out / name).unlink()
    assert {p.name for p in replot(out)} == drawn
    (out / FIGURE_DATA).unlink()  # a run of the previous layout
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(BadInput, match=FIGURE_DATA):
        replot(out)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing written
    with pytest.raises(BadInput, match="report"):
        replot(tmp_path)


def teardown_module() -> None:
    pyplot().close("all")
