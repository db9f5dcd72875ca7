"""Multi-seed statistics, the one module for ``train --seeds``, ``compare`` and ``tune``.

Everything is computed by ``scipy.stats``: the mean's 95 % interval from the t distribution
(``t.interval``), Welch's unequal-variance t-test (``ttest_ind(equal_var=False)``, Welch 1947)
for independent seeds, and the paired t-test (``ttest_rel``) when both sides ran the same seeds
(the seed fixes data order and initialization, so the pairs share them). Intervals are clipped
to the metric's range (an accuracy lies in [0, 1], a loss is >= 0). A verdict is
direction-aware (higher accuracy, lower loss is better) and "inconclusive" with fewer than
:data:`MIN_SEEDS` seeds on a side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

MIN_SEEDS = 3  # fewer per side: no verdict

Verdict = Literal["a better", "b better", "no difference", "inconclusive"]


def _scipy_stats() -> Any:
    # scipy ships no type information (a mypy override in pyproject.toml): used as Any
    from scipy import stats

    return stats


#: a metric whose name holds one of these is a loss or an error: minimized, >= 0
MINIMIZED_WORDS = ("loss", "mse", "error", "seconds")


def minimized(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better (losses, (n)MSE, errors, seconds)."""
    name = metric.lower()
    return any(word in name for word in MINIMIZED_WORDS)


def higher_is_better(metric: str) -> bool:
    """Accuracy-like metrics (``acc``, ``auroc``) are maximized; losses and errors minimized."""
    return not minimized(metric)


def metric_bounds(metric: str) -> tuple[float, float]:
    """The range a metric's values (and so its intervals) lie in."""
    name = metric.lower()
    if name.endswith(("acc", "auroc")) or "_acc" in name:
        return 0.0, 1.0
    if minimized(name):
        return 0.0, math.inf
    return -math.inf, math.inf


def _clip(value: float | None, bounds: tuple[float, float]) -> float | None:
    return None if value is None else min(max(value, bounds[0]), bounds[1])


class Summary(BaseModel):
    """One metric over seeds: ``std`` is the sample standard deviation (ddof 1; 0 for one
    value); the 95 % t-interval of the mean is clipped to the metric's range (``None`` for
    fewer than two values)."""

    n: int
    mean: float
    std: float
    ci95_low: float | None
    ci95_high: float | None
    min: float
    max: float
    values: list[float]


def summarize(values: Sequence[float], metric: str = "") -> Summary:
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    low = high = None
    if n > 1:
        if std == 0.0:
            low = high = mean
        else:
            st = _scipy_stats()
            low, high = (float(v) for v in st.t.interval(0.95, n - 1, mean, std / math.sqrt(n)))
    bounds = metric_bounds(metric)
    return Summary(
        n=n,
        mean=mean,
        std=std,
        ci95_low=_clip(low, bounds),
        ci95_high=_clip(high, bounds),
        min=min(xs),
        max=max(xs),
        values=xs,
    )


class PairTest(BaseModel):
    """``a`` vs ``b`` on one metric: the difference of means ``a - b`` with its 95 % interval
    (clipped to the range a difference can take), the test used and its p-value, and the
    direction-aware verdict; ``supported``: ``a`` beats ``b`` (the interval excludes 0 on a's
    better side) with at least :data:`MIN_SEEDS` seeds on each side."""

    a: str
    b: str
    metric: str = ""
    n_a: int = 0
    n_b: int = 0
    test: Literal["welch", "paired", "none"] = "welch"
    diff: float
    t: float | None
    df: float | None
    p_value: float | None
    ci95_low: float | None
    ci95_high: float | None
    higher_is_better: bool = True
    verdict: Verdict = "inconclusive"
    supported: bool


def compare(
    name_a: str,
    a: Sequence[float],
    name_b: str,
    b: Sequence[float],
    *,
    metric: str = "",
    higher_is_better: bool = True,
    paired: bool = False,
) -> PairTest:
    """Welch's t-test of ``a`` vs ``b`` (the paired t-test when ``paired``: equal lengths, the
    same seeds in the same order), two-sided."""
    xa, xb = [float(v) for v in a], [float(v) for v in b]
    if paired and len(xa) != len(xb):
        raise ValueError("a paired test needs the same seeds on both sides")
    diff = sum(xa) / len(xa) - sum(xb) / len(xb)
    lo, hi = metric_bounds(metric)
    span = (lo - hi, hi - lo)  # the values a difference of two means can take
    base = PairTest(
        a=name_a,
        b=name_b,
        metric=metric,
        n_a=len(xa),
        n_b=len(xb),
        diff=diff,
        higher_is_better=higher_is_better,
        test="none",
        t=None,
        df=None,
        p_value=None,
        ci95_low=None,
        ci95_high=None,
        supported=False,
    )
    if len(xa) < 2 or len(xb) < 2:
        return base
    st = _scipy_stats()
    groups = [[x - y for x, y in zip(xa, xb, strict=True)]] if paired else [xa, xb]
    constant = all(max(g) == min(g) for g in groups)
    low: float | None
    high: float | None
    t_value: float | None
    df: float | None
    if constant:  # no spread: the means are the whole story (scipy's t would be +-inf or nan)
        low = high = diff
        t_value, df, p_value = None, None, (1.0 if diff == 0 else 0.0)
    else:
        res = st.ttest_rel(xa, xb) if paired else st.ttest_ind(xa, xb, equal_var=False)
        ci = res.confidence_interval(0.95)
        low, high = float(ci.low), float(ci.high)
        t_value, df, p_value = float(res.statistic), float(res.df), float(res.pvalue)
    low, high = _clip(low, span), _clip(high, span)
    assert low is not None and high is not None
    sign = 1.0 if higher_is_better else -1.0
    enough = min(len(xa), len(xb)) >= MIN_SEEDS
    a_wins = sign * (low if sign > 0 else high) > 0 if low != high else sign * diff > 0
    b_wins = sign * (high if sign > 0 else low) < 0 if low != high else sign * diff < 0
    verdict: Verdict = "inconclusive"
    if enough:
        verdict = "a better" if a_wins else "b better" if b_wins else "no difference"
    return base.model_copy(
        update={
            "test": "paired" if paired else "welch",
            "t": t_value,
            "df": df,
            "p_value": p_value,
            "ci95_low": low,
            "ci95_high": high,
            "verdict": verdict,
            "supported": enough and a_wins,
        }
    )


def welch(
    name_a: str,
    a: Sequence[float],
    name_b: str,
    b: Sequence[float],
    higher_is_better: bool = True,
    metric: str = "",
) -> PairTest:
    """Welch's test of independent samples (``tune`` compares families this way)."""
    return compare(name_a, a, name_b, b, metric=metric, higher_is_better=higher_is_better)
