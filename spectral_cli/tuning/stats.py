"""Multi-seed statistics: mean, sample std, t-based 95 % CI, and Welch's t-test.

Welch (1947): t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b), with the
Welch-Satterthwaite degrees of freedom; the confidence interval of the difference uses the same
standard error and df. A claim "a beats b" is *supported* only when that interval excludes 0 on
a's better side: above 0 for a metric where higher is better (accuracy), below 0 where lower is
better (a loss, an NMSE).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


class Summary(BaseModel):
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); 0 when n == 1
    ci95_low: float | None
    ci95_high: float | None
    values: list[float]


class PairTest(BaseModel):
    a: str
    b: str
    diff: float  # mean_a - mean_b
    t: float | None
    df: float | None
    p_value: float | None
    ci95_low: float | None
    ci95_high: float | None
    higher_is_better: bool = True  # the direction of the compared metric
    supported: bool  # a beats b: the CI of a - b is above 0 (below 0 when lower is better)


def _student_t() -> Any:
    """scipy's Student t distribution."""
    # scipy ships no type information (a mypy override in pyproject.toml): used as Any
    from scipy import stats

    return stats.t


def t_quantile(df: float, q: float = 0.975) -> float:
    return float(_student_t().ppf(q, df))


def summarize(values: Sequence[float]) -> Summary:
    """Mean, sample std and the t-based 95 % confidence interval of the mean."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    if n < 2:
        return Summary(n=n, mean=mean, std=std, ci95_low=None, ci95_high=None, values=xs)
    half = t_quantile(n - 1) * std / math.sqrt(n)
    return Summary(n=n, mean=mean, std=std, ci95_low=mean - half, ci95_high=mean + half, values=xs)


def welch(
    name_a: str,
    a: Sequence[float],
    name_b: str,
    b: Sequence[float],
    higher_is_better: bool = True,
) -> PairTest:
    """Welch's unequal-variance t-test of mean(a) vs mean(b), two-sided; ``supported`` says
    whether a beats b in the metric's direction (``higher_is_better``)."""
    sa, sb = summarize(a), summarize(b)
    diff = sa.mean - sb.mean
    sign = 1.0 if higher_is_better else -1.0  # a's better side of 0
    if sa.n < 2 or sb.n < 2:
        return PairTest(
            a=name_a,
            b=name_b,
            diff=diff,
            t=None,
            df=None,
            p_value=None,
            ci95_low=None,
            ci95_high=None,
            higher_is_better=higher_is_better,
            supported=False,
        )
    va, vb = sa.std**2 / sa.n, sb.std**2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0.0:  # identical constants: no evidence either way unless the means differ
        p = 1.0 if diff == 0 else 0.0
        return PairTest(
            a=name_a,
            b=name_b,
            diff=diff,
            t=None,
            df=None,
            p_value=p,
            ci95_low=diff,
            ci95_high=diff,
            higher_is_better=higher_is_better,
            supported=sign * diff > 0,
        )
    t = diff / se
    df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
    p = float(2 * _student_t().sf(abs(t), df))
    half = t_quantile(df) * se
    return PairTest(
        a=name_a,
        b=name_b,
        diff=diff,
        t=t,
        df=df,
        p_value=p,
        ci95_low=diff - half,
        ci95_high=diff + half,
        higher_is_better=higher_is_better,
        supported=sign * diff - half > 0,
    )
