"""``spectral tune``'s small rules on hand-made numbers: the kept value, the verdicts and the
published seed in both metric directions, failing trials through Optuna's public API, and the
choice options."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from conftest import assert_one_line_error, invoke

from spectral_cli.core.report import Selection
from spectral_cli.core.stats import summarize, welch
from spectral_cli.tuning.recovery import fail_trial
from spectral_cli.tuning.report import FamilyResult, FinalRun, TuneReport, comparison_markdown

HISTORY = [
    {"epoch": 1.0, "val_loss": 0.9},
    {"epoch": 2.0, "val_loss": 0.4},
    {"epoch": 3.0, "val_loss": 0.6},
]


def selection(kept: str, best_value: float | None) -> Selection:
    return Selection(
        metric="val_loss", mode="min", best_epoch=2, best_value=best_value, epochs_run=3, kept=kept
    )


def test_kept_value_is_the_best_epochs_or_the_last_ones() -> None:
    assert selection("best", 0.4).kept_value(HISTORY) == 0.4
    assert selection("last", 0.4).kept_value(HISTORY) == 0.6
    assert selection("best", None).kept_value(HISTORY) == 0.6  # no best recorded: the last


def family(metric: str, direction: str, tests: list[float], vals: list[float]) -> FamilyResult:
    return FamilyResult(
        study_name="s",
        metric="val_loss" if direction == "min" else "val_acc",
        direction="minimize" if direction == "min" else "maximize",
        test_metric=metric,
        test_direction=direction,
        trials=[],
        best_params={},
        best_value=vals[0],
        best_trial=0,
        params_total=10,
        final=[
            FinalRun(seed=s, val=v, test=t, run_dir=f"seed-{s}")
            for s, (t, v) in enumerate(zip(tests, vals, strict=True))
        ],
        test=summarize(tests),
    )


def verdicts(metric: str, direction: str, a: list[float], b: list[float]) -> str:
    """The comparison.md row of families ``lo`` (values ``a``) and ``hi`` (values ``b``)."""
    fams = {
        "lo": family(metric, direction, a, [0.5] * len(a)),
        "hi": family(metric, direction, b, [0.5] * len(b)),
    }
    pt = welch("lo", a, "hi", b, higher_is_better=direction == "max")
    report = TuneReport(
        config={},
        seed=0,
        device="cpu",
        versions={},
        storage="sqlite://",
        sampler="tpe",
        pruner="none",
        trials_requested=1,
        final_seeds=len(a),
        workers=1,
        families=fams,
        pairwise=[pt],
        timing={},
    )
    rows = [
        line for line in comparison_markdown(report).splitlines() if line.startswith("| lo | hi |")
    ]
    assert len(rows) == 1
    return rows[0]


LOW = [0.10, 0.12, 0.11, 0.09, 0.13]  # mean 0.11
HIGH = [0.20, 0.22, 0.21, 0.19, 0.23]  # mean 0.21, the same spread: the CI of lo - hi is < 0


def test_lower_is_better_the_lower_family_wins() -> None:
    pt = welch("lo", LOW, "hi", HIGH, higher_is_better=False)
    assert pt.ci95_high is not None and pt.ci95_high < 0
    assert pt.supported  # lo beats hi on an NMSE
    assert not welch("hi", HIGH, "lo", LOW, higher_is_better=False).supported
    assert verdicts("test_nmse", "min", LOW, HIGH).endswith("| lo better (supported) |")
    assert verdicts("test_loss", "min", HIGH, LOW).endswith("| hi better (supported) |")


def test_higher_is_better_the_higher_family_wins() -> None:
    pt = welch("lo", LOW, "hi", HIGH)
    assert not pt.supported
    assert welch("hi", HIGH, "lo", LOW).supported
    assert verdicts("test_acc", "max", LOW, HIGH).endswith("| hi better (supported) |")
    assert verdicts("test_acc", "max", HIGH, LOW).endswith("| lo better (supported) |")


def test_overlapping_seeds_support_no_verdict_either_way() -> None:
    noisy = [0.05, 0.30, 0.12, 0.02, 0.25]
    for metric, direction in (("test_nmse", "min"), ("test_acc", "max")):
        assert verdicts(metric, direction, LOW, noisy).endswith("| no supported difference |")


def test_constant_seeds_win_in_the_metrics_direction() -> None:
    assert welch("a", [0.1] * 3, "b", [0.2] * 3, higher_is_better=False).supported
    assert not welch("a", [0.1] * 3, "b", [0.2] * 3).supported
    # below three seeds a side there is no verdict, whatever the numbers
    two = welch("a", [0.1, 0.1], "b", [0.2, 0.2], higher_is_better=False)
    assert two.verdict == "inconclusive" and not two.supported


@pytest.mark.parametrize(("direction", "seed"), [("min", 1), ("max", 2)])
def test_the_published_seed_is_the_best_on_validation(direction: str, seed: int) -> None:
    fam = family("test_nmse", direction, [0.3, 0.1, 0.2], [0.50, 0.20, 0.90])
    assert fam.best_final().seed == seed
    tie = family("test_nmse", direction, [0.3, 0.1], [0.4, 0.4])
    assert tie.best_final().seed == 0  # a tie goes to the lowest seed


def test_a_trial_is_failed_through_tell_unless_it_finished(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(storage=url, study_name="s", direction="minimize")
    running, done = study.ask(), study.ask()
    study.tell(done, 0.5)
    assert fail_trial(study, study.trials[running.number])
    assert not fail_trial(study, study.trials[done.number])  # its own result stands
    states = [t.state.name for t in optuna.load_study(study_name="s", storage=url).trials]
    assert states == ["FAIL", "COMPLETE"]


@pytest.mark.parametrize(("option", "value"), [("--sampler", "grid"), ("--pruner", "always")])
def test_a_choice_outside_the_set_is_one_line_exit_2(
    runner, tmp_path: Path, option: str, value: str
) -> None:
    result = invoke(runner, "tune", "hpe", option, value, "--out", tmp_path / "t", "-q")
    assert_one_line_error(result, 2)
    assert value in result.stderr and not (tmp_path / "t").exists()


def test_scipy_statistics_give_the_figures_of_the_hand_written_welch_test() -> None:
    """The tune comparison's numbers before the statistics moved to scipy (its own Welch
    implementation, Welch-Satterthwaite df), pinned to 1e-12."""
    a, b = [0.61, 0.64, 0.58, 0.66, 0.63], [0.55, 0.59, 0.57, 0.52, 0.60]
    pt = welch("hpe", a, "standard", b)
    assert pt.diff == pytest.approx(0.05799999999999994, abs=1e-12)
    assert pt.t == pytest.approx(2.929442379201408, rel=1e-12)
    assert pt.df == pytest.approx(7.979229411153809, rel=1e-12)
    assert pt.p_value == pytest.approx(0.019068118010397875, rel=1e-9)
    assert pt.ci95_low == pytest.approx(0.012322752158164398, rel=1e-9)
    assert pt.ci95_high == pytest.approx(0.10367724784183549, rel=1e-9)
    assert pt.supported and pt.verdict == "a better"
    s = summarize(a)
    assert (s.ci95_low, s.ci95_high) == pytest.approx((0.5861343371836054, 0.6618656628163946))
    low = welch("x", [0.2, 0.25, 0.22], "y", [0.3, 0.28, 0.35, 0.31], higher_is_better=False)
    assert (low.t, low.df, low.p_value) == pytest.approx(
        (-4.190279412931978, 4.824247355573637, 0.00926001359228883), rel=1e-9
    )
    assert (low.ci95_low, low.ci95_high) == pytest.approx(
        (-0.14042136838154443, -0.03291196495178886), rel=1e-9
    )
    assert low.supported and low.verdict == "a better"
