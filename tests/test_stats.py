"""lepton_lab.stats on synthetic data with known answers (no measurement involved)."""
from __future__ import annotations

import math
import random

import pytest

from lepton_lab.errors import InvalidInput
from lepton_lab.stats import (
    CANNOT_TELL,
    NOT_REPRODUCED,
    REPRODUCED,
    CutInterval,
    abab,
    cut_interval,
    pareto_front,
    verdict,
)


def _pairs(rng: random.Random, n: int, ratio: float, noise: float = 0.08, drift: float = 0.05):
    """n baseline/candidate pairs: a shared drift per pair (the machine), multiplicative noise per run."""
    shared = [rng.gauss(0, drift) for _ in range(n)]
    baseline = [100 * math.exp(d + rng.gauss(0, noise)) for d in shared]
    candidate = [100 * ratio * math.exp(d + rng.gauss(0, noise)) for d in shared]
    return baseline, candidate


@pytest.mark.parametrize("pairs", [5, 10])
def test_the_interval_covers_the_true_cut_at_about_the_nominal_rate(pairs):
    """Over 400 seeds, the 95 % interval holds the true cut (35 %) about 95 % of the time: at five
    pairs too, where a percentile bootstrap of the same data covers only ~84 %."""
    rng, hits, trials = random.Random(7), 0, 400
    for seed in range(trials):
        baseline, candidate = _pairs(rng, pairs, 0.65)
        interval = cut_interval(baseline, candidate, resamples=1000, seed=seed)
        assert interval.low <= interval.cut <= interval.high
        hits += interval.low <= 0.35 <= interval.high
    assert 0.91 <= hits / trials <= 0.985, hits / trials


def test_more_pairs_narrow_the_interval_and_the_estimate_is_unbiased():
    rng = random.Random(3)
    widths = {}
    for n in (5, 40):
        intervals = [cut_interval(*_pairs(rng, n, 0.7), resamples=500, seed=s) for s in range(60)]
        widths[n] = sum(i.high - i.low for i in intervals) / len(intervals)
        assert sum(i.cut for i in intervals) / len(intervals) == pytest.approx(0.30, abs=0.015)
    assert widths[40] < widths[5] / 2


def test_identical_ratios_give_a_point_interval():
    interval = cut_interval([10.0, 20.0, 40.0], [7.0, 14.0, 28.0])
    assert (interval.cut, interval.low, interval.high) == pytest.approx((0.3, 0.3, 0.3))


def test_bad_input_is_one_line():
    with pytest.raises(InvalidInput, match="in pairs"):
        cut_interval([1.0, 2.0], [1.0])
    with pytest.raises(InvalidInput, match="at least 2 pairs"):
        cut_interval([1.0], [1.0])
    with pytest.raises(InvalidInput, match="positive"):
        cut_interval([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(InvalidInput, match="repeats"):
        abab(0)


def test_abab_alternates_starting_with_the_baseline():
    assert abab(3) == ["A", "B", "A", "B", "A", "B"]


@pytest.mark.parametrize("energy, accuracy, expected", [
    ([1, 2, 3], [0.9, 0.95, 0.97], [True, True, True]),            # a clean trade-off
    ([1, 2, 3], [0.97, 0.95, 0.90], [True, False, False]),          # one beats all
    ([2, 2, 3], [0.95, 0.95, 0.90], [True, True, False]),           # identical twins both stay
    ([2, 2, 1], [0.95, 0.96, 0.90], [False, True, True]),           # equal energy, better accuracy wins
    ([1, 2, 2], [0.90, 0.95, 0.95], [True, True, True]),            # tie on the frontier
    ([5], [0.5], [True]),
    ([], [], []),
])
def test_pareto_front_on_hand_made_cases(energy, accuracy, expected):
    assert pareto_front(energy, accuracy) == expected


def test_verdicts_follow_the_interval():
    assert verdict(CutInterval(0.4, 0.33, 0.45, 0.95, 5))[0] == REPRODUCED
    assert verdict(CutInterval(0.2, 0.15, 0.25, 0.95, 5))[0] == NOT_REPRODUCED
    kind, sentence = verdict(CutInterval(0.31, 0.22, 0.38, 0.95, 5))
    assert kind == CANNOT_TELL and "spans 30%" in sentence
    assert verdict(CutInterval(0.3, 0.30, 0.35, 0.95, 5))[0] == REPRODUCED  # the low end reaching 30 % counts


def test_the_geometric_means_of_the_same_pairs_give_the_cut_exactly():
    """Issue 18: lesson 07 printed medians beside a geometric-mean cut ("3.91e+03 vs 414, cut -100.6 %").
    One estimator: 1 - gm(candidate) / gm(baseline) over the same pairs is the cut, each in its interval."""
    from lepton_lab.stats import geometric_mean

    baseline, candidate = _pairs(random.Random(3), 6, 0.6, noise=0.3)
    cut, ours, theirs = cut_interval(baseline, candidate), geometric_mean(candidate), geometric_mean(baseline)
    assert 1 - ours.value / theirs.value == pytest.approx(cut.cut, rel=1e-12)
    assert ours.low < ours.value < ours.high and theirs.low < theirs.value < theirs.high
    assert geometric_mean([4.0]).value == pytest.approx(4.0) and geometric_mean([4.0]).low == pytest.approx(4.0)
    with pytest.raises(InvalidInput):
        geometric_mean([1.0, -1.0])


@pytest.mark.parametrize("runs", [3, 5])
def test_the_geometric_means_interval_covers_at_about_the_nominal_rate_and_stays_sane(runs):
    """Three runs (quick mode) too: the t interval on logs covers the true value ~95 % of the time,
    where a studentized bootstrap of three runs reached 1e5 times the value."""
    from lepton_lab.stats import geometric_mean

    rng, hits, trials, widest = random.Random(11), 0, 1000, 0.0
    for _ in range(trials):
        g = geometric_mean([100 * math.exp(rng.gauss(0, 0.1)) for _ in range(runs)])
        hits += g.low <= 100 <= g.high
        widest = max(widest, g.high / g.low)
    assert 0.93 <= hits / trials <= 0.97, hits / trials
    assert widest < 10, widest


def test_two_pairs_give_a_wide_interval_not_a_point():
    """The bootstrap of two pairs has no spread to resample (every resample is the mean or has no
    spread): the interval is the t interval with one degree of freedom, wide as it should be."""
    interval = cut_interval([100.0, 104.0], [70.0, 80.0])
    assert interval.low < interval.cut < interval.high and interval.high - interval.low > 0.5
