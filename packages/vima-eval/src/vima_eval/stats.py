"""Confidence intervals and tests used by the reports (95% unless told otherwise)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

Z95 = float(scipy_stats.norm.ppf(0.975))


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (no continuity correction)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


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
    """The same episodes run twice: difference of success rates with the exact McNemar test
    (binomial test on the discordant pairs) and a Wald interval of the paired difference."""
    if len(a) != len(b) or not a:
        raise ValueError("paired outcomes need the same, non-zero number of episodes")
    n = len(a)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    d = (only_a - only_b) / n
    se = math.sqrt(max(only_a + only_b - (only_a - only_b) ** 2 / n, 0.0)) / n
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(scipy_stats.binomtest(only_a, discordant).pvalue)
    return Difference(d, d - Z95 * se, d + Z95 * se, p_value, paired=True, n=n)


def mean_interval(rates: Sequence[float], counts: Sequence[int]) -> tuple[float, float]:
    """Normal-approximation interval of an unweighted mean of independent success rates."""
    if not rates:
        return (math.nan, math.nan)
    variance = sum(p * (1 - p) / n for p, n in zip(rates, counts, strict=True)) / len(rates) ** 2
    mean = sum(rates) / len(rates)
    half = Z95 * math.sqrt(variance)
    return (max(0.0, mean - half), min(1.0, mean + half))


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(indices)` over `n` episodes."""
    if n == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)])
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (math.nan, math.nan)
    tail = (1 - level) / 2
    return (float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail)))
