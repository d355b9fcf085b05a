"""The summed cluster report (issue 18, lesson 06): its peak is the peak of the hosts' simultaneous
power, never below the average, and a cell shorter than a poll still has a trace to draw.

The hosts' RAPL counters are faked (``tests/fakes/load_following_powercap``: this machine has no
readable RAPL); the Dask cluster, its worker processes and the samplers are real."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("distributed")

import lepton_lab
from lepton_lab.cluster import POLL_S, sum_traces
from tests.test_cluster import POWER_W, cluster  # noqa: F401 (a fixture)


def test_traces_are_summed_where_the_hosts_ran_at_once():
    one = {"t_s": [0.1, 0.2, 0.3], "power_w": {"cpu:package-0": [10.0, 20.0, 10.0], "cpu:dram-0": [1.0, 1.0, 1.0]}}
    late = {"t_s": [0.1, 0.2], "power_w": {"cpu:package-0": [5.0, 7.0]}}  # joined at 0.15 s
    summed = sum_traces({"a": [(0.0, one)], "b": [(0.15, late)]})
    assert summed["t_s"] == [0.1, 0.2, 0.25, 0.3, 0.35]
    assert summed["power_w"]["a"] == [11.0, 21.0, 11.0, 11.0, 0.0]  # nothing after its last sample
    assert summed["power_w"]["b"] == [0.0, 5.0, 5.0, 7.0, 7.0]  # nothing before it joined
    totals = [a + b for a, b in zip(summed["power_w"]["a"], summed["power_w"]["b"])]
    assert max(totals) == 26.0  # 21 W and 5 W at the same time, not 21 + 7 from different moments
    assert sum_traces({"a": [(0.0, {"t_s": [], "power_w": {}})]}) is None


@pytest.mark.kernel
def test_a_short_cells_peak_is_the_sum_of_the_hosts_and_never_below_the_average(cluster):  # noqa: F811
    client, _ = cluster
    with lepton_lab.measure(label="short", dask=client) as block:
        time.sleep(POLL_S * 0.6)  # shorter than a poll: the polled trace would be empty
    report = block.report
    trace = report.trace
    assert len(trace["t_s"]) >= 3 and set(trace["power_w"]) == set(report.hosts), trace
    assert report.peak_w >= report.mean_w * 0.97, (report.peak_w, report.mean_w)
    # Constant power per host: the simultaneous sum is the sum of the hosts' powers.
    assert report.peak_w == pytest.approx(sum(POWER_W.values()), rel=0.15), (report.peak_w, report.hosts)
    assert all(report.peak_w >= (h["peak_w"] or 0.0) for h in report.hosts.values())
