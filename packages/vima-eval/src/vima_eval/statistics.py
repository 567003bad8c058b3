"""Confidence intervals and tests used by the reports (95% unless told otherwise).

Success rates get Wilson score intervals (scipy's `binomtest(...).proportion_ci`); a level
average (the unweighted mean of its tasks' rates) gets a normal interval whose per-task
variances are read off the tasks' Wilson intervals, so a task at 0 % or 100 % still carries its
uncertainty (the plug-in p(1-p)/n would be zero there). Differences: Newcombe's hybrid score
intervals, for independent samples (with Fisher's exact test) and for the same episodes run
twice (with the exact McNemar test); level differences as level means of those.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

Z95 = float(scipy_stats.norm.ppf(0.975))


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (no continuity correction)."""
    if n <= 0:
        return (math.nan, math.nan)
    ci = scipy_stats.binomtest(successes, n).proportion_ci(0.95, method="wilson")
    return (max(0.0, float(ci.low)), min(1.0, float(ci.high)))


def interval_variance(low: float, high: float) -> float:
    """The variance a symmetric normal 95% interval of this width would have."""
    return ((high - low) / (2 * Z95)) ** 2


@dataclass(frozen=True)
class Difference:
    """A difference of proportions `a - b`, its 95% interval, p-value and how it was paired."""

    estimate: float
    low: float
    high: float
    p_value: float
    paired: bool
    n: int


def newcombe_difference(a_successes: int, a_n: int, b_successes: int, b_n: int) -> Difference:
    """Independent samples: Newcombe's hybrid score interval (his method 10) and Fisher's
    exact test."""
    pa, pb = a_successes / a_n, b_successes / b_n
    la, ua = wilson_interval(a_successes, a_n)
    lb, ub = wilson_interval(b_successes, b_n)
    d = pa - pb
    low = d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    high = d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    table = [[a_successes, a_n - a_successes], [b_successes, b_n - b_successes]]
    p_value = float(scipy_stats.fisher_exact(table).pvalue)
    return Difference(d, low, high, p_value, paired=False, n=min(a_n, b_n))


def paired_difference(a: Sequence[bool], b: Sequence[bool]) -> Difference:
    """The same episodes run twice: difference of success rates with Newcombe's hybrid score
    interval for paired data (his method 10, 1998) and the exact McNemar test (binomial test
    on the discordant pairs)."""
    if len(a) != len(b) or not a:
        raise ValueError("paired outcomes need the same, non-zero number of episodes")
    n = len(a)
    both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    neither = n - both - only_a - only_b
    pa, pb = (both + only_a) / n, (both + only_b) / n
    la, ua = wilson_interval(both + only_a, n)
    lb, ub = wilson_interval(both + only_b, n)
    product = both * neither - only_a * only_b
    margins = (both + only_a) * (neither + only_b) * (both + only_b) * (neither + only_a)
    numerator = max(product - n / 2, 0.0) if product > 0 else float(product)
    phi = numerator / math.sqrt(margins) if margins else 0.0
    d = pa - pb
    below = (pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2
    above = (ua - pa) ** 2 - 2 * phi * (ua - pa) * (pb - lb) + (pb - lb) ** 2
    low, high = max(-1.0, d - math.sqrt(max(below, 0.0))), min(1.0, d + math.sqrt(max(above, 0.0)))
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(scipy_stats.binomtest(only_a, discordant).pvalue)
    return Difference(d, low, high, p_value, paired=True, n=n)


def mean_interval(intervals: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """Normal interval of the unweighted mean of independent rates given as (rate, low,
    high) with 95% intervals; each rate's variance is read off its interval."""
    if not intervals:
        return (math.nan, math.nan)
    k = len(intervals)
    mean = sum(rate for rate, _, _ in intervals) / k
    half = Z95 * math.sqrt(sum(interval_variance(lo, hi) for _, lo, hi in intervals)) / k
    return (max(0.0, mean - half), min(1.0, mean + half))


def mean_difference(differences: Sequence[Difference]) -> Difference:
    """The unweighted mean of independent per-task differences, with a normal interval from
    their intervals' variances and a two-sided normal p-value."""
    if not differences:
        raise ValueError("a mean difference needs at least one difference")
    k = len(differences)
    d = sum(x.estimate for x in differences) / k
    se = math.sqrt(sum(interval_variance(x.low, x.high) for x in differences)) / k
    p_value = float(2 * scipy_stats.norm.sf(abs(d) / se)) if se > 0 else 1.0
    paired = all(x.paired for x in differences)
    low, high = max(-1.0, d - Z95 * se), min(1.0, d + Z95 * se)
    return Difference(d, low, high, p_value, paired=paired, n=k)


def bootstrap_intervals(
    statistic: Callable[..., Any],
    *sizes: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap (scipy's `bootstrap`) over episodes: `statistic` gets one array of
    resampled episode indices per sample (of `sizes` episodes each, resampled independently)
    and returns a value or an array of values; (lows, highs) of the same shape (a single NaN
    each where a sample has fewer than two episodes or `resamples` is 0)."""
    if resamples == 0 or min(sizes, default=0) < 2:
        return np.asarray(math.nan), np.asarray(math.nan)
    result = scipy_stats.bootstrap(
        tuple(np.arange(n) for n in sizes),
        statistic,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        vectorized=False,
        random_state=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return np.asarray(interval.low, np.float64), np.asarray(interval.high, np.float64)


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float], n: int, *, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(indices)` over `n` episodes."""
    low, high = bootstrap_intervals(statistic, n, resamples=resamples, seed=seed)
    return float(low), float(high)
