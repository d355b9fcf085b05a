"""Recorded GPU traces shipped as package data: the facts PROVENANCE.md states hold for the shipped
files, the converter reproduces them byte for byte from the raw files, and the meter decoder reads
records the way the artifact's decoder does. Real third-party data throughout; nothing faked."""
from __future__ import annotations

import filecmp
import itertools
import struct
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from lepton_lab import traces
from lepton_lab.errors import InvalidInput
from lepton_lab.traces import convert, pmd

H100 = {8: (3702, 370, 482), 64: (734, 73, 599), 256: (802, 80, 687), 1024: (829, 83, 693)}  # rows, span s, median W
RAW = convert.DEFAULT_RAW


def test_every_trace_is_listed_and_loads_with_its_provenance_and_licence():
    assert set(traces.names()) == {convert.A100_NAME, *(convert.h100_name(b) for b in H100)}
    folder = resources.files("lepton_lab").joinpath("data", "traces")
    for name in traces.names():
        frame = traces.load(name)
        assert frame.columns[0] == "t_s" and len(frame.columns) >= 2
        for key in ("source", "license", "gpu", "workload", "commit", "processing", "license_file"):
            assert frame.attrs[key], (name, key)
        assert folder.joinpath(frame.attrs["license_file"]).read_text().strip()
        assert set(frame.columns[1:]) == set(frame.attrs["series"])


@pytest.mark.parametrize("batch", H100)
def test_the_h100_files_have_provenances_row_counts_spans_and_medians(batch):
    rows, span, median = H100[batch]
    frame = traces.load(convert.h100_name(batch))
    assert len(frame) == rows
    assert frame["t_s"].max() == pytest.approx(span, abs=1.0)
    assert frame["power_w"].median() == pytest.approx(median, abs=1.0)
    assert frame.attrs["gpu"] == "H100" and frame.attrs["license"] == "Apache-2.0"


def _overlap(frame, column):
    meter = frame[["t_s", "meter_w"]].dropna()
    smi = frame[["t_s", column]].dropna()
    lo, hi = max(meter.t_s.min(), smi.t_s.min()), min(meter.t_s.max(), smi.t_s.max())
    m = meter[(meter.t_s >= lo) & (meter.t_s <= hi)]
    s = smi[(smi.t_s >= lo) & (smi.t_s <= hi)]
    return hi - lo, np.trapezoid(m.meter_w, m.t_s), np.trapezoid(s[column], s.t_s)


def test_the_a100_meter_rate_and_the_10_s_overlap_energies():
    frame = traces.load(convert.A100_NAME)
    meter = frame[["t_s", "meter_w"]].dropna()
    assert len(meter) == 47_735
    rate = (len(meter) - 1) / (meter.t_s.max() - meter.t_s.min())
    assert rate == pytest.approx(4_784, rel=0.005)  # ~4.8 kHz
    smi = frame[["t_s", "power_draw_w"]].dropna()
    assert len(smi) == 965 and smi.t_s.max() - smi.t_s.min() == pytest.approx(12.7, abs=0.1)
    span, meter_j, draw_j = _overlap(frame, "power_draw_w")
    assert span == pytest.approx(9.98, abs=0.01)
    assert meter_j == pytest.approx(1155, abs=1.5) and draw_j == pytest.approx(1147, abs=1.5)
    assert _overlap(frame, "power_draw_instant_w")[2] == pytest.approx(1147, abs=1.5)
    assert 50 < meter.meter_w.min() < 60 and 195 < meter.meter_w.max() < 210  # the square wave's two levels


def test_the_meter_decoder_on_records_with_known_values():
    """Two hand-built records: a counter that wraps, a value whose top bit marks it empty."""
    def word(value):
        return value << 4
    first = struct.pack("<9H", 65_000, word(1000), word(100), 0, 0, word(1000), word(200), word(2048 + 5), word(9))
    second = struct.pack("<9H", 64, word(1000), word(100), 0, 0, word(1000), word(200), 0, 0)
    times, watts = pmd.decode(first + second, start_us=2_000_000)
    assert times[0] == pytest.approx(1.95)  # start - 50 ms
    assert times[1] - times[0] == pytest.approx((65_536 - 65_000 + 64) / 2933.5 / 1000)
    pcie1 = 1000 * 0.007568 * 100 * 0.0488
    eps1 = 1000 * 0.0075 * 200 * 0.0488
    assert watts[0] == pytest.approx(pcie1 + eps1)  # EPS 2's voltage had bit 11 set: taken as 0
    assert watts[1] == pytest.approx(pcie1 + eps1)


def test_series_and_bad_names():
    t, w = traces.series(convert.A100_NAME)  # the replay column: the meter, gaps dropped
    assert len(t) == len(w) == 47_735 and all(b > a for a, b in itertools.pairwise(t[:100]))
    with pytest.raises(InvalidInput, match="no recorded trace named 'nope': choose from a100-square-wave, h100"):
        traces.load("nope")
    with pytest.raises(InvalidInput, match="has no series 'volts'"):
        traces.series(convert.A100_NAME, "volts")


@pytest.mark.skipif(not (RAW / convert.A100_FOLDER / "PMD_data.bin").exists(),
                    reason=f"the raw public files are not beside this checkout ({RAW})")
def test_the_converter_makes_the_shipped_files_from_the_raw_ones(tmp_path):
    written = convert.convert(RAW, tmp_path)
    shipped = Path(str(resources.files("lepton_lab").joinpath("data", "traces")))
    assert sorted(written) == sorted(traces.names())
    for path in sorted(tmp_path.iterdir()):
        assert filecmp.cmp(path, shipped / path.name, shallow=False), f"{path.name} differs from a new conversion"
