"""TOST equivalence (margin +/-10 points) of vima-eval's differences, on inputs whose answer
is computed by hand (issue 27)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats
from vima_eval.statistics import (
    Difference,
    mean_difference,
    newcombe_difference,
    paired_counts,
    paired_difference,
    wilson_bounds,
    wilson_interval,
)


def test_wilson_bounds_at_z95_is_wilson_interval() -> None:
    for counts in ((0, 10), (7, 20), (67, 100), (20, 20)):
        assert wilson_bounds(*counts, 1.959963984540054) == pytest.approx(wilson_interval(*counts))


def test_tost_of_equal_halves_by_hand() -> None:
    """50/100 vs 50/100: Wilson half-width at z is 0.05 z / sqrt(1 + z^2/100), Newcombe's
    sqrt(2) times that; it reaches 0.10 where z^2 = 2 / 0.98, z = 10/7: p = 1 - Phi(10/7)."""
    expected = float(scipy_stats.norm.sf(10 / 7))
    assert round(expected, 4) == 0.0766
    unpaired = newcombe_difference(50, 100, 50, 100)
    assert unpaired.equivalence_p == pytest.approx(expected, rel=1e-6)
    assert not unpaired.equivalent and unpaired.p_value == 1.0  # no difference, not equivalence
    # paired with both * neither == only_a * only_b: correlation 0, the same interval
    paired = paired_counts(25, 25, 25, 25)
    assert paired.paired and paired.equivalence_p == pytest.approx(expected, rel=1e-6)


def test_tost_shows_equivalence_with_enough_episodes() -> None:
    """500/1000 vs 500/1000: z^2 (1 - 20/1000) = 20, z = sqrt(20/0.98) = 4.518."""
    diff = newcombe_difference(500, 1000, 500, 1000)
    assert diff.equivalence_p == pytest.approx(scipy_stats.norm.sf(math.sqrt(20 / 0.98)), rel=1e-6)
    assert diff.equivalent


def test_tost_is_1_outside_the_margin_and_one_sided_inside() -> None:
    assert newcombe_difference(80, 100, 60, 100).equivalence_p == 1.0
    assert paired_counts(40, 30, 10, 20).equivalence_p == 1.0  # +20 points
    # +5 of 400 vs 400 at 50 %: the upper test decides, so TOST > the symmetric +0 case's
    shifted = newcombe_difference(220, 400, 200, 400)
    centred = newcombe_difference(200, 400, 200, 400)
    assert centred.equivalence_p < 0.05 < shifted.equivalence_p < 0.5
    assert shifted.equivalent is False and centred.equivalent is True


def test_mean_difference_tost_is_the_normal_one() -> None:
    """Two differences, 0 and +4 points, each with a 95% interval of half-width 0.1 * Z95
    (se 0.1): their mean +2 has se sqrt(2 * 0.1^2) / 2, p = 1 - Phi((0.10 - 0.02) / se)."""
    z95 = float(scipy_stats.norm.ppf(0.975))
    parts = [Difference(d, d - 0.1 * z95, d + 0.1 * z95, 1.0, True, 100) for d in (0.0, 0.04)]
    se = math.sqrt(2 * 0.1**2) / 2
    expected = float(scipy_stats.norm.sf((0.10 - 0.02) / se))
    assert mean_difference(parts).equivalence_p == pytest.approx(expected, rel=1e-6)


def test_paired_difference_is_paired_counts() -> None:
    a = [True, True, False, False, True, False]
    b = [True, False, True, False, False, False]
    assert paired_difference(a, b) == paired_counts(1, 2, 1, 2)
