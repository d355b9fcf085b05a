"""The ± that reports print for the integration path is a tested claim (issue 9): on real data
with an external meter as ground truth (the SC'24 A100 set, see lepton_lab/traces/meter_check.py), it
covers at least 95 % of the observed errors at every window length from 0.1 s to 5 s, and is not
more than ~3× the observed 95th percentile. The windows here are other random positions than
the ones the model was fitted on. The energy-counter path cannot be checked with this data
(there is no counter in it); its model stays as it is until a GPU session measures it."""
from __future__ import annotations

import pytest

from lepton_lab.traces.meter_check import WINDOWS_S, MeterWindows


@pytest.fixture(scope="module")
def windows():
    return MeterWindows()


@pytest.mark.parametrize("length", WINDOWS_S)
def test_the_printed_uncertainty_covers_the_meter_and_is_not_inflated(windows, length):
    stats = windows.stats(length, count=300, seed=11)
    assert stats.coverage >= 0.95, stats
    assert stats.uncertainty_over_p95 <= 3.0, stats


def test_the_whole_overlap_agrees_with_the_meter_within_one_percent(windows):
    """The total over the ~10 s where both were recorded (PROVENANCE: meter 1,155 J, -0.7 %)."""
    length = windows.end - windows.start
    sensed = windows.sensor_energy_j(windows.start, length, 0.1)
    assert sensed == pytest.approx(windows.meter_energy_j(windows.start, windows.end), rel=0.01)
