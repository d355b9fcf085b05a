"""Lifetime energy of training + inferences, and the break-even point of an optimisation."""
from __future__ import annotations

import math

import pytest

from lepton_lab.errors import InvalidInput
from lepton_lab.whatif import lifecycle as lc


def test_lifetime_adds_training_and_inferences():
    r = lc.lifetime(training_j=1000.0, per_inference_j=2.0, inferences=500)
    assert r.baseline_j == 2000.0 and r.optimised_j == 2000.0  # no optimisation given
    assert r.training_share == 0.5 and r.saving_j == 0.0


def test_break_even_formula_and_payback():
    r = lc.lifetime(1000.0, per_inference_j=2.0, inferences=1000, optimisation_j=300.0,
                    optimised_per_inference_j=1.4)
    assert r.break_even == pytest.approx(300.0 / 0.6)
    assert r.paid_back and r.saving_j == pytest.approx(1000 * 0.6 - 300.0)
    early = lc.lifetime(1000.0, 2.0, 100, 300.0, 1.4)
    assert not early.paid_back and early.saving_j < 0


def test_at_break_even_both_lifetimes_are_equal():
    n = lc.break_even_inferences(3600.0, 5.0, 3.0)
    r = lc.lifetime(1e6, 5.0, n, 3600.0, 3.0)
    assert r.baseline_j == pytest.approx(r.optimised_j)


@pytest.mark.parametrize("after", [2.0, 2.5])
def test_break_even_never_reached_when_optimised_is_not_cheaper(after):
    assert lc.break_even_inferences(100.0, 2.0, after) is None
    r = lc.lifetime(0.0, 2.0, 1e9, 100.0, after)
    assert r.break_even is None and not r.paid_back and r.saving_j < 0


def test_free_optimisation_pays_back_immediately():
    assert lc.break_even_inferences(0.0, 2.0, 1.0) == 0.0
    assert lc.break_even_inferences(0.0, 2.0, 2.0) == 0.0  # nothing to pay back


def test_zero_inferences_is_all_training():
    r = lc.lifetime(500.0, 3.0, 0, 50.0, 1.0)
    assert r.baseline_j == 500.0 and r.optimised_j == 550.0 and r.training_share == 1.0


def test_zero_everything_has_no_share_to_divide():
    r = lc.lifetime(0.0, 0.0, 0)
    assert r.baseline_j == 0.0 and r.training_share == 0.0


def test_curve_spans_zero_to_n_and_matches_the_result():
    r = lc.lifetime(100.0, 1.0, 1000, 50.0, 0.5)
    xs, base, opt = lc.curve(r, points=11)
    assert xs[0] == 0 and xs[-1] == 1000 and len(xs) == 11
    assert base[0] == 100.0 and base[-1] == pytest.approx(r.baseline_j)
    assert opt[0] == 150.0 and opt[-1] == pytest.approx(r.optimised_j)


def test_per_item_from_a_measured_batch():
    assert lc.per_item_j(64.0, 32) == 2.0
    with pytest.raises(InvalidInput, match="at least 1"):
        lc.per_item_j(64.0, 0)


@pytest.mark.parametrize("args", [(-1, 1, 1), (1, -1, 1), (1, 1, -5), (1, 1, math.nan), (1, 1, 1e16), (None, 1, 1)])
def test_bad_inputs_raise_invalid_input(args):
    with pytest.raises(InvalidInput):
        lc.lifetime(*args)


def test_negative_optimisation_cost_is_rejected():
    with pytest.raises(InvalidInput, match="optimisation energy"):
        lc.break_even_inferences(-1.0, 2.0, 1.0)
