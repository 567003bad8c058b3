"""Confidence intervals and tests used by the reports (95% unless told otherwise).

Success rates get Wilson score intervals (scipy's `binomtest(...).proportion_ci`); a level
average (the unweighted mean of its tasks' rates) gets a normal interval whose per-task
variances are read off the tasks' Wilson intervals, so a task at 0 % or 100 % still carries its
uncertainty (the plug-in p(1-p)/n would be zero there). Differences: Newcombe's hybrid score
intervals, for independent samples (with Fisher's exact test) and for the same episodes run
twice (with the exact McNemar test); level differences as level means of those.

Equivalence (two one-sided tests, TOST, margin +/-10 points): a difference is equivalent to 0
at level alpha when its (1 - 2 alpha) interval, of the same method as its 95% interval, lies
inside (-10, +10) points; its TOST p-value is the smallest such alpha (1 when the estimate itself
lies outside the margin). "No difference detected" (p >= 0.05) is not equivalence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

Z95 = float(scipy_stats.norm.ppf(0.975))
EQUIVALENCE_MARGIN = 0.10  # TOST margin: 10 percentage points either way


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
    """A difference of proportions `a - b`, its 95% interval, p-value, how it was paired and
    the TOST p-value of equivalence within +/-EQUIVALENCE_MARGIN (NaN where not computed)."""

    estimate: float
    low: float
    high: float
    p_value: float
    paired: bool
    n: int
    equivalence_p: float = math.nan

    @property
    def equivalent(self) -> bool:
        """Equivalence within the margin shown at 5% (TOST)."""
        return self.equivalence_p < 0.05


def wilson_bounds(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval at normal quantile `z` (closed form; z = Z95 gives
    `wilson_interval`)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def tost_p(
    bounds: Callable[[float], tuple[float, float]],
    estimate: float,
    margin: float = EQUIVALENCE_MARGIN,
) -> float:
    """TOST p-value by inverting an interval family: `bounds(z)` is the interval at normal
    quantile z; the answer is the smallest alpha whose (1 - 2 alpha) interval, z = z(1 - alpha),
    lies inside (-margin, margin), 1.0 when the estimate does not."""

    def inside(z: float) -> bool:
        low, high = bounds(z)
        return -margin < low and high < margin

    if not -margin < estimate < margin:
        return 1.0
    lo, hi = 0.0, 40.0
    if inside(hi):
        return float(scipy_stats.norm.sf(hi))
    for _ in range(60):  # bisection on z: inside below the crossing, outside above it
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if inside(mid) else (lo, mid)
    return float(scipy_stats.norm.sf(lo))


def _newcombe_bounds(a: int, a_n: int, b: int, b_n: int, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of a/a_n - b/b_n (independent) at quantile z."""
    pa, pb = a / a_n, b / b_n
    (la, ua), (lb, ub) = wilson_bounds(a, a_n, z), wilson_bounds(b, b_n, z)
    d = pa - pb
    return (d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2),
            d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2))  # fmt: skip


def newcombe_difference(a_successes: int, a_n: int, b_successes: int, b_n: int) -> Difference:
    """Independent samples: Newcombe's hybrid score interval (his method 10), Fisher's exact
    test and the TOST of equivalence on the same interval."""
    counts = (a_successes, a_n, b_successes, b_n)
    d = a_successes / a_n - b_successes / b_n
    low, high = _newcombe_bounds(*counts, Z95)
    table = [[a_successes, a_n - a_successes], [b_successes, b_n - b_successes]]
    p_value = float(scipy_stats.fisher_exact(table).pvalue)
    equivalence = tost_p(lambda z: _newcombe_bounds(*counts, z), d)
    return Difference(d, low, high, p_value, paired=False, n=min(a_n, b_n),
                      equivalence_p=equivalence)  # fmt: skip


def _paired_bounds(
    both: int, only_a: int, only_b: int, neither: int, z: float
) -> tuple[float, float]:
    """Newcombe's paired hybrid score interval (method 10, 1998) at quantile z."""
    n = both + only_a + only_b + neither
    pa, pb = (both + only_a) / n, (both + only_b) / n
    la, ua = wilson_bounds(both + only_a, n, z)
    lb, ub = wilson_bounds(both + only_b, n, z)
    product = both * neither - only_a * only_b
    margins = (both + only_a) * (neither + only_b) * (both + only_b) * (neither + only_a)
    numerator = max(product - n / 2, 0.0) if product > 0 else float(product)
    phi = numerator / math.sqrt(margins) if margins else 0.0
    d = pa - pb
    below = (pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2
    above = (ua - pa) ** 2 - 2 * phi * (ua - pa) * (pb - lb) + (pb - lb) ** 2
    return max(-1.0, d - math.sqrt(max(below, 0.0))), min(1.0, d + math.sqrt(max(above, 0.0)))


def paired_counts(both: int, only_a: int, only_b: int, neither: int) -> Difference:
    """Paired outcomes given as their 2 x 2 counts: difference of success rates, Newcombe's
    paired interval, exact McNemar test (binomial test on the discordant pairs) and TOST."""
    counts = (both, only_a, only_b, neither)
    n = sum(counts)
    if n <= 0 or min(counts) < 0:
        raise ValueError("paired outcomes need the same, non-zero number of episodes")
    d = (only_a - only_b) / n
    low, high = _paired_bounds(*counts, Z95)
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(scipy_stats.binomtest(only_a, discordant).pvalue)
    equivalence = tost_p(lambda z: _paired_bounds(*counts, z), d)
    return Difference(d, low, high, p_value, paired=True, n=n, equivalence_p=equivalence)


def paired_difference(a: Sequence[bool], b: Sequence[bool]) -> Difference:
    """The same episodes run twice (outcomes in the same order): `paired_counts` of them."""
    if len(a) != len(b) or not a:
        raise ValueError("paired outcomes need the same, non-zero number of episodes")
    pairs = list(zip(a, b, strict=True))
    both = sum(1 for x, y in pairs if x and y)
    only_a = sum(1 for x, y in pairs if x and not y)
    only_b = sum(1 for x, y in pairs if y and not x)
    return paired_counts(both, only_a, only_b, len(pairs) - both - only_a - only_b)


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
    equivalence = tost_p(lambda z: (d - z * se, d + z * se), d)
    return Difference(d, low, high, p_value, paired=paired, n=k, equivalence_p=equivalence)


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
