"""``spectral plot RUN``: every figure of a run redrawn from what it saved, for every family
(the session's smoke runs: the report layout of the previous release, feb6ac2, which this
change keeps), ``tune`` and ``harmony-score``; ``--no-plots`` then ``plot``; the format and
resolution; and every bad RUN refused with one line, exit 2 and nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke
from helpers import copy_run, snapshot

from spectral_cli.core.registry import family_names

FIGURES = (".png", ".svg", ".pdf")


def figures(run: Path) -> set[str]:
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.suffix in FIGURES}


@pytest.mark.parametrize("family", family_names())
def test_plot_redraws_every_figure_of_a_train_run(runner, trained_run, tmp_path, family) -> None:
    run = copy_run(trained_run(family), tmp_path / "run")
    drawn = figures(run)
    assert "curves.png" in drawn
    for name in drawn:
        (run / name).unlink()
    before = {k: v for k, v in snapshot(run).items() if not k.startswith(".spectral")}
    result = invoke(runner, "plot", run)
    assert result.exit_code == 0, result.output
    assert figures(run) == drawn
    assert sorted(result.stdout.split()) == sorted(str(run / name) for name in drawn)
    after = {k: v for k, v in snapshot(run).items() if not k.startswith(".spectral")}
    assert {k: v for k, v in after.items() if k not in drawn} == before  # figures only


def test_format_and_dpi_reach_every_figure_and_json_lists_them(
    runner, trained_run, tmp_path
) -> None:
    run = copy_run(trained_run("hpe"), tmp_path / "run")
    result = invoke(runner, "plot", run, "--format", "svg", "--dpi", "40", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert {Path(p).name for p in listed} == {
        "curves.svg",
        "hpe_embedding.svg",
        "hpe_frequencies.svg",
    }
    for path in listed:
        assert Path(path).read_bytes().lstrip().startswith(b"<")
    pdf = invoke(runner, "plot", run, "--format", "pdf")
    assert pdf.exit_code == 0 and (run / "curves.pdf").read_bytes().startswith(b"%PDF")


def test_no_plots_then_plot(runner, tmp_path: Path) -> None:
    from helpers import smoke_args

    run = tmp_path / "run"
    trained = invoke(runner, *smoke_args("hmlp"), "--out", run, "--no-plots", "-q")
    assert trained.exit_code == 0, trained.output
    assert figures(run) == set()
    assert "curves" not in json.loads((run / "report.json").read_text())["files"]
    result = invoke(runner, "plot", run)
    assert result.exit_code == 0, result.output
    assert figures(run) == {"curves.png", "activations.png"}


def test_harmony_score_no_plots_then_plot(runner, trained_run, tmp_path: Path) -> None:
    checkpoint = trained_run("hae").out / "model.safetensors"
    out = tmp_path / "score"
    scored = invoke(
        runner, "harmony-score", "--checkpoint", checkpoint, "--out", out, "--no-plots", "-q"
    )
    assert scored.exit_code == 0, scored.output
    assert figures(out) == set()
    result = invoke(runner, "plot", out)
    assert result.exit_code == 0, result.output
    assert figures(out) == {"harmony_hist.png"}


def test_tune_no_plots_then_plot(runner, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    sets = ["--set", "train.epochs=1", "--set", "data.limit=200", "--set", "train.batch_size=64"]
    tuned = invoke(
        runner,
        "tune",
        "mlp",
        "--trials",
        "1",
        "--final-seeds",
        "1",
        *sets,
        "--out",
        out,
        "--no-plots",
        "-q",
    )
    assert tuned.exit_code == 0, tuned.output
    assert not (out / "comparison.png").exists()
    result = invoke(runner, "plot", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(out / "comparison.png")]


def test_a_seeds_directory_redraws_each_seed(runner, tmp_path: Path) -> None:
    from helpers import smoke_args

    out = tmp_path / "seeds"
    args = smoke_args("mlp")[:-2]  # without its --seed 0
    trained = invoke(runner, *args, "--seeds", "0,1", "--out", out, "--no-plots", "-q")
    assert trained.exit_code == 0, trained.output
    result = invoke(runner, "plot", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(out / f"seed-{s}" / "curves.png") for s in (0, 1)]
    assert not (out / "seed-0" / ".spectral.lock").exists()  # the directory's lock only


def bad_runs(tmp_path: Path) -> dict[str, Path]:
    cases = {}
    cases["missing"] = tmp_path / "nope"
    (tmp_path / "file").write_text("x")
    cases["a file"] = tmp_path / "file"
    (tmp_path / "empty").mkdir()
    cases["no report"] = tmp_path / "empty"
    for name, text in {
        "corrupt report": "{not json",
        "no command": '{"x": 1}',
        "unknown command": '{"command": "export"}',
        "foreign train report": '{"command": "train", "family": "hpe"}',
    }.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        (folder / "report.json").write_text(text)
        cases[name] = folder
    return cases


def test_every_bad_run_is_one_line_exit_2_and_nothing_written(runner, tmp_path: Path) -> None:
    root = tmp_path / "cases"
    root.mkdir()
    for name, run in bad_runs(root).items():
        before = snapshot(root)
        result = invoke(runner, "plot", run)
        assert_one_line_error(result)
        assert snapshot(root) == before, name
    bad = invoke(runner, "plot", root / "empty", "--format", "gif")
    assert_one_line_error(bad)


def test_one_bad_run_among_good_ones_draws_nothing(runner, trained_run, tmp_path) -> None:
    good = copy_run(trained_run("mlp"), tmp_path / "good")
    (good / "curves.png").unlink()
    result = invoke(runner, "plot", good, tmp_path / "missing")
    assert_one_line_error(result)
    assert not (good / "curves.png").exists()


def test_missing_weights_are_named(runner, trained_run, tmp_path) -> None:
    run = copy_run(trained_run("hpe"), tmp_path / "run")
    (run / "model.safetensors").unlink()
    before = snapshot(run)
    result = invoke(runner, "plot", run)
    assert_one_line_error(result)
    assert "model.safetensors" in result.stderr
    assert snapshot(run) == before


def test_a_run_locked_by_a_live_process_is_refused(runner, trained_run, tmp_path) -> None:
    run = copy_run(trained_run("mlp"), tmp_path / "run")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from spectral_cli.core.runs import lock_run_dir; "
            f"lock_run_dir(Path({str(run)!r})); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = snapshot(run)
        result = invoke(runner, "plot", run)
        assert_one_line_error(result)
        assert "in use" in result.stderr and f"pid {holder.pid}" in result.stderr
        assert snapshot(run) == before
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0)  # the lock went with the process: the next plot is fine
    assert invoke(runner, "plot", run).exit_code == 0


def test_a_command_whose_module_lacks_replot_is_exit_2(runner, tmp_path, monkeypatch) -> None:
    from spectral_cli.core import replot

    monkeypatch.setitem(replot.REPLOT, "ntk", "spectral_cli.core.plots:replot")
    monkeypatch.setitem(replot.REPLOT, "verify-lstm", "spectral_cli.not_a_module:replot")
    for command in ("ntk", "verify-lstm"):
        run = tmp_path / command
        run.mkdir()
        (run / "report.json").write_text(json.dumps({"command": command}))
        result = invoke(runner, "plot", run)
        assert_one_line_error(result)
        assert f"cannot redraw {command} runs" in result.stderr and "lacks replot" in result.stderr


STANDALONE = {  # a small run of each non-train command that `spectral plot` redraws
    "ntk": ["ntk", "--width", "16", "--depth", "3", "--m", "4", "--n-train", "8", "--n-test", "12"],
    "verify-lstm": ["verify-lstm", "--window", "4", "--windows", "3"],
}


def test_every_command_in_the_dispatch_table_is_covered() -> None:
    from spectral_cli.core.replot import REPLOT

    assert set(REPLOT) == {"train", "tune", "harmony-score", *STANDALONE}


@pytest.mark.parametrize("command", sorted(STANDALONE))
def test_no_plots_then_plot_for_ntk_and_verify_lstm(runner, tmp_path: Path, command) -> None:
    """Through ``spectral plot`` (the packages' own replot tests call it directly)."""
    run = tmp_path / command
    made = invoke(runner, *STANDALONE[command], "--out", run, "--no-plots", "-q")
    assert made.exit_code == 0, made.output
    assert figures(run) == set()
    result = invoke(runner, "plot", run, "--format", "svg", "--json")
    assert result.exit_code == 0, result.output
    listed = {str(Path(p).relative_to(run)) for p in json.loads(result.stdout)}
    assert listed and listed == figures(run) and all(f.endswith(".svg") for f in listed)
