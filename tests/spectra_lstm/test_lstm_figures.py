"""Figures of verify-lstm and the spectra-lstm family, read through their matplotlib objects;
verify-lstm's size limits, ``--no-plots`` and the redraw from a saved run."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, invoke, read_report
from matplotlib.colors import SymLogNorm

from spectral_cli.core.errors import BadInput
from spectral_cli.spectra_lstm import plots
from spectral_cli.spectra_lstm.construct import construct

FIGURE_DATA = "figures.npz"


def replot(run: Path) -> list[Path]:
    """The redraw ``spectral plot`` calls (imported here so that each test, not the module,
    fails on code without it)."""
    from spectral_cli.spectra_lstm.verify_report import replot as redraw

    return redraw(run)


def images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def data_axes(fig):
    """The axes that hold data (a colour bar's axes have no title)."""
    return [ax for ax in fig.axes if ax.get_title()]


def test_construction_map_marks_blocks_and_ticks_do_not_crowd_zero() -> None:
    w = construct(8, torch.float64)
    fig = plots.build_weight_hh(w.weight_hh.numpy(), w.blocks, "T=8")
    [ax] = data_axes(fig)
    [im] = images(fig)
    assert isinstance(im.norm, SymLogNorm) and im.get_interpolation() == "nearest"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["gen", "sum", "prod"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["i gate", "f gate", "g gate", "o gate"]
    bar = im.colorbar
    ticks = np.asarray(bar.get_ticks())
    labels = [t.get_text() for t in bar.ax.get_yticklabels()]
    assert 0.0 in ticks and len(set(labels)) == len(labels)
    # the ticks next to 0 lie a decade or more outside the linear part (no "1e-8 0 -1e-8")
    assert np.abs(ticks[ticks != 0]).min() >= 10 * im.norm.linthresh * (1 - 1e-12)
    assert im.get_clim() == (-np.abs(w.weight_hh.numpy()).max(), np.abs(w.weight_hh.numpy()).max())


def test_random_map_is_linear_from_the_data_without_construction_blocks() -> None:
    w = np.random.default_rng(0).normal(size=(4 * 23, 23))
    w[0, 0] = 1e3  # an outlier: clipped, not stretching the scale
    fig = plots.build_weight_hh(w, None, "random")
    [ax] = data_axes(fig)
    [im] = images(fig)
    assert not isinstance(im.norm, SymLogNorm)
    top = np.percentile(np.abs(w), plots.LINEAR_PERCENTILE)
    assert im.get_clim() == pytest.approx((-top, top))
    assert "clipped" in im.colorbar.ax.get_ylabel()
    assert not {"gen", "sum", "prod"} & {t.get_text() for t in ax.get_xticklabels()}


def test_large_maps_are_aggregated_not_subsampled() -> None:
    w = construct(128, torch.float64).weight_hh.numpy()
    fig = plots.build_weight_hh(w, construct(128, torch.float64).blocks, "T=128")
    [im] = images(fig)
    shown = im.get_array()
    assert max(shown.shape) <= plots.MAX_CELLS and im.get_interpolation() == "nearest"
    # each pixel keeps its block's largest entry: the extremes survive aggregation
    assert np.abs(shown).max() == np.abs(w).max()
    assert (shown != 0).sum() > 0 and (np.sign(shown) == -1).any() and (np.sign(shown) == 1).any()


def test_before_after_shares_a_scale_and_blocks_only_for_the_construction() -> None:
    w = construct(6, torch.float64)
    a = w.weight_hh.numpy()
    b = a + 1e-3
    fig = plots.build_weight_hh_before_after(a, b, w.blocks, "exact")
    ims = images(fig)
    assert len(ims) == 3 and ims[0].get_clim() == ims[1].get_clim()
    assert ims[0].norm.linthresh == ims[1].norm.linthresh  # one colour scale, not two
    rnd = np.random.default_rng(1).normal(size=a.shape)
    fig = plots.build_weight_hh_before_after(rnd, rnd * 1.1, None, "random")
    axes = data_axes(fig)
    top = np.percentile(np.abs(np.concatenate([rnd.ravel(), 1.1 * rnd.ravel()])), 99)
    assert images(fig)[0].get_clim() == images(fig)[1].get_clim() == pytest.approx((-top, top))
    assert all(not isinstance(im.norm, SymLogNorm) for im in images(fig))
    assert all("gen" not in [t.get_text() for t in ax.get_xticklabels()] for ax in axes)


def _spectra(T: int, windows: int, rel: float) -> tuple[np.ndarray, np.ndarray]:
    x = torch.randn(windows * T, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    X = torch.fft.fft(x.reshape(windows, T), dim=-1)
    ref = (X.real**2 + X.imag**2).numpy()
    est = ref * (1 + rel)
    return est, ref


def test_spectrogram_bins_colour_range_and_error_panel() -> None:
    T, W = 16, 5
    est, ref = _spectra(T, W, 0.02)
    errors = np.abs(est - ref).max(1) / ref.max(1)
    fig = plots.build_spectrogram(est, ref, errors, 1e-5, "run")
    axes = data_axes(fig)
    assert len(axes) == 4  # LSTM, FFT, relative error per bin, error per window
    lstm, fft, err = images(fig)
    assert lstm.get_array().shape == (T // 2 + 1, W)  # bins 0..T/2 only (a real signal)
    log_ref = np.log10(ref[:, : T // 2 + 1])
    want = (np.percentile(log_ref, plots.LOG_PERCENTILE), log_ref.max())
    assert lstm.get_clim() == pytest.approx(want) and fft.get_clim() == pytest.approx(want)
    assert "clipped" in lstm.colorbar.ax.get_ylabel()
    # 2 % error: the error panel shows it (log10 0.02 * P / max P, up to the window maximum)
    assert err.get_array().max() == pytest.approx(np.log10(0.02), abs=1e-9)
    rel = np.log10(0.02 * ref[:, : T // 2 + 1] / ref[:, : T // 2 + 1].max(1, keepdims=True))
    assert err.get_clim()[0] == pytest.approx(np.percentile(rel, plots.LOG_PERCENTILE))
    per_window = axes[3]
    assert per_window.get_yscale() == "log"
    ticks = per_window.get_xticks()
    assert np.all(ticks == np.round(ticks))
    assert per_window.get_legend() is not None


def test_spectrogram_with_tol_zero_warns_nothing() -> None:
    est, ref = _spectra(8, 3, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.build_spectrogram(est, ref, np.zeros(3), 0.0, "tol 0")
        fig.canvas.draw()
    assert "tol 0" in data_axes(fig)[3].get_title()


def test_verify_refuses_sizes_beyond_the_limit_before_allocating(runner, tmp_path: Path) -> None:
    from spectral_cli.spectra_lstm.verify_limits import construction_bytes, max_window

    assert construction_bytes(max_window()) <= 2 * 2**30 < construction_bytes(max_window() + 1)
    for args in (["--window", "100000"], ["--windows", "1000000000"]):
        result = invoke(runner, "verify-lstm", "--out", tmp_path / "big", *args)
        assert_one_line_error(result)
        assert "verify-lstm allows 2 GiB" in result.stderr
        assert not (tmp_path / "big").exists()


def test_verify_tol_zero_prints_no_warning(runner, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = invoke(runner, "verify-lstm", "--out", tmp_path / "t", "--tol", "0", "-q")
    assert result.exit_code == 1, result.output  # tol 0 fails on any rounding
    assert "Warning" not in result.output
    assert (tmp_path / "t" / "spectrogram.png").is_file()


def test_no_plots_writes_no_png_and_replot_draws_them(runner, tmp_path: Path) -> None:
    out = tmp_path / "v"
    r = invoke(runner, "verify-lstm", "--out", out, "--window", "4", "--windows", "3", "--no-plots")
    assert r.exit_code == 0, r.output
    assert not list(out.rglob("*.png")) and (out / FIGURE_DATA).is_file()
    assert "weight_hh" not in read_report(out)["files"]
    written = replot(out)
    assert sorted(p.name for p in written) == ["spectrogram.png", "weight_hh.png"]
    assert all(p.stat().st_size > 10_000 for p in written)
    # the config key keeps working
    r = invoke(runner, "verify-lstm", "--out", tmp_path / "w", "--set", "plots=false", "-q")
    assert r.exit_code == 0 and not list((tmp_path / "w").rglob("*.png"))


def test_replot_redraws_a_run_and_refuses_one_without_the_data(runner, tmp_path: Path) -> None:
    out = tmp_path / "v"
    assert invoke(runner, "verify-lstm", "--out", out, "--window", "5", "-q").exit_code == 0
    report = read_report(out)
    assert {report["files"]["weight_hh"], report["files"]["spectrogram"]} == {
        "weight_hh.png",
        "spectrogram.png",
    }
    for name in ("weight_hh.png", "spectrogram.png"):
        (out / name).unlink()
    assert {p.name for p in replot(out)} == {"weight_hh.png", "spectrogram.png"}
    assert (out / "weight_hh.png").is_file()
    (out / FIGURE_DATA).unlink()  # a run of the previous layout
    with pytest.raises(BadInput, match=FIGURE_DATA):
        replot(out)
    with pytest.raises(BadInput, match="report"):
        replot(tmp_path)
