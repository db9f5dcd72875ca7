"""core/plots.save_figure: the format, resolution and on/off switch of every figure, set once
by a ``figure_format`` block (``spectral plot --format/--dpi``, ``tune --no-plots``)."""

from __future__ import annotations

from pathlib import Path

from spectral_cli.core import plots


def small_figure():
    fig, ax = plots.pyplot().subplots(figsize=(2, 2))
    ax.plot([1, 2], [3, 4])
    return fig


def test_the_block_sets_suffix_format_and_dpi_and_lists_what_it_wrote(tmp_path: Path) -> None:
    with plots.figure_format("svg", 40) as outer:
        first = plots.save_figure(small_figure(), tmp_path / "a.png")
        with plots.figure_format(dpi=20) as inner:  # inherits svg
            second = plots.save_figure(small_figure(), tmp_path / "b.png")
    assert first == tmp_path / "a.svg" and second == tmp_path / "b.svg"
    assert first.read_bytes().lstrip().startswith(b"<") and not (tmp_path / "a.png").exists()
    assert inner.written == [second] and outer.written == [first, second]
    png = plots.save_figure(small_figure(), tmp_path / "c.png")  # outside: PNG, 110 dpi
    assert png.read_bytes().startswith(b"\x89PNG")


def test_dpi_changes_the_pixel_size(tmp_path: Path) -> None:
    from PIL import Image

    sizes = []
    for dpi in (20, 40):
        with plots.figure_format("png", dpi):
            path = plots.save_figure(small_figure(), tmp_path / f"d{dpi}.png")
        with Image.open(path) as im:
            sizes.append(im.size[0])
    assert 1.8 < sizes[1] / sizes[0] < 2.2  # bbox "tight" rounds by a pixel or two


def test_a_disabled_block_writes_nothing(tmp_path: Path) -> None:
    with plots.figure_format(enabled=False) as off:
        plots.save_figure(small_figure(), tmp_path / "e.png")
        with plots.figure_format("svg"):  # an inner block cannot switch them back on
            plots.save_figure(small_figure(), tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == [] and off.written == []


def test_colour_limits_come_from_percentiles_and_say_when_they_clip() -> None:
    import numpy as np

    values = np.linspace(-1, 1, 1000)
    values[0] = 50.0  # one outlier would wash out every other colour
    lim, clipped = plots.color_limits(values)
    assert lim < 2 and clipped
    fig = plots.build_embedding_heatmap(values.reshape(20, 50), "t")
    bar = fig.axes[-1]
    assert "clipped" in bar.get_ylabel()
    plots.pyplot().close(fig)


def test_an_image_keeps_every_row_and_column_in_view() -> None:
    """Integer ticks on an image's inverted y axis (row 0 at the top) must not narrow it: the
    HPE table once showed 3 of its 256 tokens (a negative view range taken for a narrow one)."""
    import numpy as np

    fig = plots.build_embedding_heatmap(np.random.default_rng(0).normal(size=(256, 64)), "t")
    ax = fig.axes[0]
    assert sorted(ax.get_ylim()) == [-0.5, 255.5] and ax.get_ylim()[0] > ax.get_ylim()[1]
    assert sorted(ax.get_xlim()) == [-0.5, 63.5]
    plots.pyplot().close(fig)


def test_a_narrow_range_is_widened_around_a_whole_number_either_way_up() -> None:
    for inverted in (False, True):
        fig, ax = plots.pyplot().subplots()
        ax.plot([1.0], [1.0], marker="o")
        ax.set_xlim(0.9, 1.1)
        ax.set_ylim(*((1.2, 0.8) if inverted else (0.8, 1.2)))
        plots.integer_ticks(ax.xaxis)
        plots.integer_ticks(ax.yaxis)
        assert ax.get_xlim() == (0.0, 2.0)
        assert ax.get_ylim() == ((2.0, 0.0) if inverted else (0.0, 2.0))  # orientation kept
        plots.pyplot().close(fig)
