"""CPU TDP table and its matching against realistic /proc/cpuinfo model names."""
from __future__ import annotations

import csv
import io
from importlib import resources

import pytest

from lepton_lab.cpu_tdp import CpuTdp, cpu_model_name, lookup_tdp, normalise, table


def _data_text() -> str:
    return resources.files("lepton_lab").joinpath("data").joinpath("cpu_tdp.csv").read_text("utf-8")


@pytest.mark.parametrize("cpuinfo, model, tdp, cores", [
    ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Xeon Gold 6248", 150, 20),
    ("AMD EPYC 7763 64-Core Processor", "EPYC 7763", 280, 64),
    ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "Core i7-8700K", 95, 6),
    ("12th Gen Intel(R) Core(TM) i9-12900K", "Core i9-12900K", 125, 16),
    ("AMD Ryzen 7 3700X 8-Core Processor", "Ryzen 7 3700X", 65, 8),
    ("AMD Ryzen Threadripper 3990X 64-Core Processor", "Ryzen Threadripper 3990X", 280, 64),
    ("Intel(R) Xeon(R) CPU E5-2670 v2 @ 2.50GHz", "Xeon E5-2670 v2", 115, 10),
    ("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "Xeon E5-2670", 115, 8),
    ("Intel(R) Xeon(R) Platinum 8268 CPU @ 2.90GHz", "Xeon Platinum 8268", 205, 24),
    ("intel(r) xeon(r) gold 6248 cpu @ 2.50ghz", "Xeon Gold 6248", 150, 20),
])
def test_matches_realistic_cpuinfo_names(cpuinfo, model, tdp, cores):
    match = lookup_tdp(cpuinfo)
    assert isinstance(match, CpuTdp)
    assert (match.model, match.tdp_w, match.cores) == (model, tdp, cores)
    assert "Green Algorithms" in match.source


def test_longest_model_wins():
    assert lookup_tdp("Intel(R) Core(TM) i5-10400F CPU @ 2.90GHz").model == "Core i5-10400F"
    assert lookup_tdp("Intel(R) Core(TM) i5-10400 CPU @ 2.90GHz").model == "Core i5-10400"


@pytest.mark.parametrize("name", [
    "AMD EPYC",
    "AMD EPYC 9654 96-Core Processor",
    "Intel(R) Core(TM) i5-10400T CPU @ 2.00GHz",  # a T part is not the 65 W i5-10400
    "Intel(R) Xeon(R) Gold 62480 CPU",
    "Apple M2",
    "",
    None,
])
def test_unknown_or_partial_names_give_none(name):
    assert lookup_tdp(name) is None


def test_normalise_strips_marks_cpu_word_and_frequency():
    assert normalise("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz") == "Intel Xeon Gold 6248"
    assert normalise("Intel(R)  Core(TM)   i7-4790 CPU @ 3.60GHz ") == "Intel Core i7-4790"
    assert normalise("AMD EPYC 7763 64-Core Processor") == "AMD EPYC 7763 64-Core Processor"


def test_cpu_model_name_reads_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\n"
        "model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n"
    )
    assert cpu_model_name(str(cpuinfo)) == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"


def test_cpu_model_name_falls_back_to_platform(tmp_path, monkeypatch):
    import platform

    monkeypatch.setattr(platform, "processor", lambda: "  x86_64 ")
    assert cpu_model_name(str(tmp_path / "missing")) == "x86_64"
    monkeypatch.setattr(platform, "processor", lambda: "")
    empty = tmp_path / "cpuinfo"
    empty.write_text("processor\t: 0\nHardware\t: BCM2835\n")
    assert cpu_model_name(str(empty)) is None


def test_table_file_sanity():
    text = _data_text()
    comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "Green Algorithms" in comments and "TDP_cpu.csv" in comments
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0]) == ["model", "tdp_w", "cores"]
    assert len(rows) >= 40
    models = [r["model"] for r in rows]
    assert len(models) == len(set(models))
    for row in rows:
        assert 5 <= float(row["tdp_w"]) <= 500, row
        assert 1 <= int(row["cores"]) <= 256, row
        assert row["model"] == row["model"].strip() and "(R)" not in row["model"], row
    assert len(table()) == len(rows)


def test_every_table_model_matches_itself():
    for row in table():
        assert lookup_tdp(row.model) == row
