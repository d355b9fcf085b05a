"""The ± reports print for a GPU is a tested claim (issue 17): lepton_lab's real NVML sensor path
(NvmlSensor on RecordedNvml, read every 0.1 s) runs on recorded on-board readings of real GPUs and
is compared with an external meter (the SC'24 artifact; nothing faked but NVML itself).

Targets: coverage >= 95 % at every window length from 0.1 to 5 s, for random windows and for
windows starting 0-50 ms before a load step; median printed ± <= 2 × the 95th-percentile error.
The raw recordings live in ../shared/traces (not shipped): those tests skip without them. Where
a target is not met, the case is an xfail that says why (docs/uncertainty.md has the numbers)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lepton_lab import traces
from lepton_lab.errors import InvalidInput
from lepton_lab.sensors import gpu_models
from lepton_lab.traces import check_against_meter, convert
from lepton_lab.traces.meter_check import WINDOWS_S, MeterWindows

RAW = Path(os.environ.get("LEPTON_LAB_RAW_TRACES", convert.DEFAULT_RAW))  # ../shared/traces
COUNT = 400
SETS = {  # folder: (name NVML reports, fields recorded)
    "a100-square-wave-sc24": ("NVIDIA A100-SXM4-40GB", ("instant",)),
    "a100-transient-sc24": ("NVIDIA A100-SXM4-40GB", ("instant",)),
    "rtx3090-square-wave-sc24": ("NVIDIA GeForce RTX 3090", ("instant", "usage")),
}
COLUMN = {"instant": "power_draw_instant_w", "usage": "power_draw_w"}
# Where the targets are not met, and why (measured with COUNT windows, seed 5).
NOT_COVERED = {
    ("a100-transient-sc24", "instant", 0.1): "a 0.1 s window that ends before the sensor has shown the step "
    "(45-73 ms late on this A100) holds no trace of it: ~18 % of these windows are not covered",
}
TOO_WIDE = {  # a GPU that samples 25 % of each period cannot rule out aliasing from a second of steady readings
    ("a100-square-wave-sc24", "instant"): (0.1, 0.25, 0.5, 1.0, 5.0),
    ("a100-transient-sc24", "instant"): (0.1, 0.25, 0.5, 1.0, 5.0),
    ("rtx3090-square-wave-sc24", "instant"): (0.1,),
}


def _raw(folder):
    if not (RAW / folder).is_dir():
        pytest.skip(f"the raw SC'24 recordings are not here ({RAW / folder})")
    return convert.read_sc24(RAW / folder)


def _rising_steps(folder, found, longest):
    t, w = (np.asarray(v) for v in found["meter_w"])
    lo = max(t[0], found[COLUMN["instant"]][0][0]) + 0.06
    hi = min(t[-1], found[COLUMN["instant"]][0][-1]) - longest - 0.01
    steps = []
    for s in convert.load_steps(RAW / folder):
        before, after = w[(t > s - 0.03) & (t < s - 0.005)], w[(t > s + 0.01) & (t < s + 0.04)]
        if lo < s < hi and len(before) and len(after) and after.mean() > 1.3 * before.mean():
            steps.append(s)
    return steps


CASES = [(folder, field) for folder, (_, fields) in SETS.items() for field in fields]


@pytest.fixture(scope="module", params=CASES, ids=[f"{f}-{k}" for f, k in CASES])
def checked(request):
    folder, field = request.param
    found = _raw(folder)
    gpu = SETS[folder][0]
    onboard = found[COLUMN[field]]
    random = check_against_meter(onboard, found["meter_w"], gpu=gpu, field=field, count=COUNT, seed=5)
    rng = np.random.default_rng(2)
    edges = _rising_steps(folder, found, max(WINDOWS_S))
    starts = [s - rng.uniform(0, 0.05) for s in edges for _ in range(max(1, COUNT // len(edges)))]
    steps = check_against_meter(onboard, found["meter_w"], gpu=gpu, field=field, starts=starts)
    return folder, field, random, steps


@pytest.mark.parametrize("length", WINDOWS_S)
def test_the_printed_uncertainty_covers_the_meter(checked, length):
    folder, field, random, steps = checked
    row, step = (next(r for r in rows if r.length_s == length) for rows in (random, steps))
    assert row.coverage >= 0.95, row
    if (folder, field, length) in NOT_COVERED:
        pytest.xfail(NOT_COVERED[folder, field, length])
    assert step.coverage >= 0.95, step


@pytest.mark.parametrize("length", WINDOWS_S)
def test_the_printed_uncertainty_is_at_most_twice_the_95th_percentile(checked, length):
    folder, field, random, _ = checked
    row = next(r for r in random if r.length_s == length)
    if length in TOO_WIDE.get((folder, field), ()):
        assert row.uncertainty_over_p95 <= 13, row  # the record: wide, never unbounded
        pytest.xfail(f"±/p95 = {row.uncertainty_over_p95:.1f}: the ± keeps what the readings cannot rule out")
    assert row.uncertainty_over_p95 <= 2.0, row


def test_the_shipped_a100_recording_covers_its_meter_at_every_length():
    windows = MeterWindows.shipped()
    for length in WINDOWS_S:
        stats = windows.stats(length, count=200, seed=11)
        assert stats.coverage >= 0.95, stats
        assert stats.uncertainty_over_p95 <= 3.0, stats


def test_the_whole_overlap_agrees_with_the_meter_within_one_percent():
    """The total over the ~10 s where both were recorded (PROVENANCE: meter 1,155 J, -0.7 %)."""
    windows = MeterWindows.shipped()
    length = windows.end - windows.start
    sensed = windows.sensor_energy_j(windows.start, length, 0.1)
    assert sensed == pytest.approx(windows.meter_energy_j(windows.start, windows.end), rel=0.01)


# -- bad input: one line each ------------------------------------------------------------------
def _pair():
    t = np.arange(0, 3, 0.01)
    return (t, np.full_like(t, 100.0)), (t, np.full_like(t, 105.0))


@pytest.mark.parametrize("change, words", [
    (lambda on, me: ((on[0] + 100, on[1]), me), "do not overlap"),
    (lambda on, me: ((on[0][::-1], on[1]), me), "not sorted"),
    (lambda on, me: (on, (me[0], np.where(me[0] > 1, np.nan, me[1]))), "non-finite"),
    (lambda on, me: ((on[0][::50], on[1][::50]), me), "fewer than two"),
])
def test_bad_series_get_one_line_errors(change, words):
    onboard, meter = change(*_pair())
    with pytest.raises(InvalidInput, match=words) as info:
        check_against_meter(onboard, meter, gpu="NVIDIA H100 80GB HBM3", windows_s=(0.1,), count=20)
    assert "\n" not in str(info.value)


def test_an_unknown_field_is_refused():
    onboard, meter = _pair()
    with pytest.raises(InvalidInput, match="unknown power field 'average'"):
        check_against_meter(onboard, meter, gpu="NVIDIA H100", field="average")


def test_a_steady_load_read_by_a_steady_sensor_gets_the_offset_class():
    onboard, meter = _pair()
    rows = check_against_meter(onboard, meter, gpu="NVIDIA GeForce RTX 4090", windows_s=(2.0,), count=50)
    assert rows[0].coverage == 1.0  # -4.8 % is inside the ±5 % + 5 W class
    assert 0.09 < rows[0].median_uncertainty_relative < 0.2


# -- the model ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, family", [
    ("NVIDIA A100-SXM4-80GB", "A100"), ("NVIDIA H100 80GB HBM3", "H100"), ("NVIDIA GeForce RTX 3090", "RTX 30"),
    ("NVIDIA GeForce RTX 4090", "RTX 30/40"), ("Tesla V100-SXM2-16GB", "V100"), ("Tesla T4", "T4"),
])
def test_known_gpus_find_their_row(name, family):
    model = gpu_models.lookup(name)
    assert model is not gpu_models.DEFAULT and family.split()[0] in model.family and model.sources


def test_an_unknown_gpu_gets_the_conservative_default_and_a_note():
    from lepton_lab.sensors.nvml import NvmlSensor
    from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml

    clock = FakeClock()
    sensor = NvmlSensor.open(nvml=FakeNvml([FakeGpu(name="NVIDIA Futurecard X")], clock), clock=clock)
    try:
        assert any("not in lepton_lab's table" in n for n in sensor.notes)
        known = gpu_models.estimate(gpu_models.lookup("NVIDIA H100"), "instant", 100.0, 10.0, [10.0])
        unknown = gpu_models.estimate(gpu_models.DEFAULT, "instant", 100.0, 10.0, [10.0])
        assert unknown.total_j > known.total_j
    finally:
        sensor.close()


def test_the_note_names_the_dominant_term():
    h100 = gpu_models.lookup("NVIDIA H100")
    short = gpu_models.estimate(h100, "instant", 60.0, 0.2, [300.0, 300.0])
    long = gpu_models.estimate(h100, "instant", 30_000.0, 100.0, [300.0, 300.0])
    assert short.dominant == "sampling" and "0.2 s" in short.note("gpu:0")
    assert long.dominant == "offset" and "calibration" in long.note("gpu:0")


def test_the_lag_term_does_not_shrink_when_the_sensor_under_reads():
    """A step seen only at the last read: the ± follows the powers seen, not the energy sensed."""
    rtx = gpu_models.lookup("NVIDIA GeForce RTX 3090")
    low = gpu_models.estimate(rtx, "instant", 6.0, 0.1, [60.0, 60.0, 300.0])
    assert low.terms["lag"] > 6.0


def test_the_shipped_a100_has_its_nvml_name():
    assert gpu_models.lookup(traces.info("a100-square-wave")["nvml_name"]).family.startswith("Ampere GA100")


def test_lesson_05_once_and_repeated_on_the_recording():
    """The lesson's claim: repeating narrows the interval far below one 0.2 s cell's ±, and the
    1 s trials' interval covers the meter's energy per run (REPLAYED A100 data)."""
    from lepton_lab.tradeoffs import sensor_view

    table = sensor_view.once_and_repeated(0.2, until=0.02)
    once, repeated = table[table.runs == 1], table[table.runs > 1]
    assert once["covered"].all() and len(repeated) == 2
    assert repeated["± (J)"].max() < 0.2 * once["± (J)"].median()
    assert bool(repeated.iloc[0]["covered"])


COUNTER_SHORT = {("a100-square-wave-sc24", 0.25): "readings stuck on the square wave's low phase while the load "
                 "averages twice as much: the unseen swing exceeds the prior (1.15 × the power seen); ~92 % covered"}


@pytest.mark.parametrize("folder", list(SETS))
def test_the_counter_path_on_a_counter_synthesised_from_the_readings(folder):
    """The counter path (Volta and newer) as lepton_lab assumes the counter to be (docs/uncertainty.md):
    the integral of the sensor's readings, stepping at each update. Not a recording of a counter."""
    found = _raw(folder)
    rows = check_against_meter(found[COLUMN["instant"]], found["meter_w"], gpu=SETS[folder][0], count=COUNT,
                               seed=5, counter=True)
    short = [r for r in rows if r.coverage < 0.95]
    assert all((folder, r.length_s) in COUNTER_SHORT and r.coverage >= 0.9 for r in short), short
