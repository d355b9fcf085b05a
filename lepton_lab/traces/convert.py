"""Convert the raw public traces (``shared/traces/``) into the package's trace files.

    python -m lepton_lab.traces.convert [RAW_FOLDER] [OUT_FOLDER]

defaults: ``../shared/traces`` beside the checkout, and ``lepton_lab/data/traces``. The output is
deterministic (gzip without a time stamp, fixed rounding), so running it again on the same raw
files gives the same bytes, and a test can check that the shipped files are what this code makes.

Each trace is ``NAME.csv.gz`` (``t_s`` then one power column per series, in watts) and
``NAME.json`` (its provenance: source, commit, licence, GPU, workload, and what was done to the
data). Where a file has several series sampled at different times (the A100 set: a meter at
~4.8 kHz, nvidia-smi every ~14 ms), each row holds the series read at that instant and leaves
the others empty.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import pmd

HERE = Path(__file__).resolve().parent
DEFAULT_RAW = HERE.parents[2] / "shared" / "traces"
DEFAULT_OUT = HERE.parent / "data" / "traces"

H100_FOLDER = "h100-llama-3.1-8b-vllm"
A100_FOLDER = "a100-square-wave-sc24"
H100_BATCHES = (8, 64, 256, 1024)
OPENG2G_COMMIT = "64578d38baf3a5fc9e8435cf7493727510c3e036"
SC24_COMMIT = "4b5c944c2454bcb52f28b975c5484aff1a78368f"
#: nvidia-smi wrote local wall time on a UTC+1 machine; the meter's start time is UTC.
SMI_UTC_OFFSET_S = 3600.0

H100_LICENCE = "LICENSE-openg2g-Apache-2.0.txt"
A100_LICENCE = "LICENSE-GPU_Power_Benchmark-MIT.txt"


def h100_name(batch: int) -> str:
    return f"h100-llama-3.1-8b-batch-{batch}"


A100_NAME = "a100-square-wave"


def write_trace(out: Path, name: str, header: list[str], rows: list[list[str]], info: dict[str, Any]) -> None:
    """One trace in the package's format: ``NAME.csv.gz`` (deterministic) and ``NAME.json``."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv_gz(out / f"{name}.csv.gz", header, rows)
    _write_json(out / f"{name}.json", {"name": name, **info})


def number(value: float | None, decimals: int) -> str:
    """A value as the trace files write it: fixed decimals, trailing zeros dropped, empty for None."""
    if value is None:
        return ""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _write_csv_gz(path: Path, header: list[str], rows: list[list[str]]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
        out.write(text.getvalue().encode("utf-8"))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_h100(raw: Path, out: Path) -> list[str]:
    names = []
    for batch in H100_BATCHES:
        source = raw / H100_FOLDER / f"max_num_seqs_{batch}.csv"
        with source.open(newline="") as handle:
            rows = [(float(r["relative_time_s"]), float(r["power_total_W"])) for r in csv.DictReader(handle)]
        name = h100_name(batch)
        write_trace(out, name, ["t_s", "power_w"], [[number(t, 3), number(w, 3)] for t, w in rows], {
            "title": f"H100 serving Llama-3.1-8B-Instruct with vLLM, max_num_seqs {batch}",
            "gpu": "H100",
            "workload": f"meta-llama/Llama-3.1-8B-Instruct served by vLLM with max_num_seqs={batch} (the server's "
                        "maximum batch size), one GPU; ML.ENERGY Benchmark v3",
            "source": f"gpu2grid/openg2g@{OPENG2G_COMMIT[:7]} (ML.ENERGY Benchmark v3)",
            "source_url": f"https://github.com/gpu2grid/openg2g/tree/{OPENG2G_COMMIT}/examples/offline/data/"
                          "offline/ebac1d5c03f752d2/traces",
            "source_file": f"Llama-3.1-8B_num_gpus_1_max_num_seqs_{batch}.csv",
            "commit": OPENG2G_COMMIT,
            "license": "Apache-2.0",
            "license_file": H100_LICENCE,
            "series": {"power_w": "GPU instant power, W: Zeus PowerMonitor at a 0.1 s update period"},
            "replay_column": "power_w",
            "processing": [
                "upstream (openg2g, _build_trace_store_from_timelines): every run interpolated onto a 0.1 s grid, "
                "then the median over runs; power summed over the run's GPUs (one here)",
                "lepton_lab.traces.convert: columns renamed (relative_time_s -> t_s, power_total_W -> power_w), "
                "time to 1 ms and power to 1 mW",
            ],
            "caveats": [
                "a median-of-runs curve, not one run",
                "the number of requests or tokens each run served is not known: no energy per token or per "
                "request can be drawn from it, nor can batch sizes be compared per unit of work",
                *([f"peaks reach {peak:.0f} W, above the H100's 700 W board limit: instant readings, short "
                   "excursions are normal"] if (peak := max(w for _, w in rows)) > 700 else []),
            ],
            "rows": len(rows),
            "converted_by": "lepton_lab.traces.convert",
        })
        names.append(name)
    shutil.copyfile(raw / H100_FOLDER / "LICENSE", out / H100_LICENCE)
    return names


def _smi_epoch(text: str) -> float:
    local = datetime.strptime(text.strip(), "%Y/%m/%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return local.timestamp() - SMI_UTC_OFFSET_S


def read_sc24(folder: Path) -> dict[str, tuple[list[float], list[float]]]:
    """A raw SC'24 set (``PMD_data.bin``, ``gpudata.csv``) as (epoch seconds, watts) per series:
    ``meter_w`` and every nvidia-smi power column, named as the trace files name them
    (``power.draw.instant [W]`` -> ``power_draw_instant_w``)."""
    meter_t, meter_w = pmd.read(folder)
    with (folder / "gpudata.csv").open(newline="") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = next(reader)
        rows = [r for r in reader if r]
    times = [_smi_epoch(r[0]) for r in rows]
    found = {"meter_w": (meter_t, meter_w)}
    for i, column in enumerate(header):
        if column.startswith("power.draw"):
            name = column.removesuffix(" [W]").replace(".", "_") + "_w"
            found[name] = (times, [float(r[i]) for r in rows])
    return found


def load_steps(folder: Path) -> list[float]:
    """The epoch seconds of the benchmark's phase changes (``timestamps.csv``), each once."""
    return sorted({int(line) / 1e6 for line in (folder / "timestamps.csv").read_text().split()[1:]})


def convert_a100(raw: Path, out: Path) -> str:
    folder = raw / A100_FOLDER
    found = read_sc24(folder)
    meter_t, meter_w = found["meter_w"]
    smi = list(zip(found["power_draw_w"][0], found["power_draw_w"][1], found["power_draw_instant_w"][1]))
    origin = min(meter_t[0], smi[0][0])
    rows: list[tuple[float, float | None, float | None, float | None]] = [
        (t - origin, w, None, None) for t, w in zip(meter_t, meter_w)]
    rows += [(t - origin, None, d, i) for t, d, i in smi]
    rows.sort(key=lambda r: (r[0], r[1] is None))
    write_trace(out, A100_NAME, ["t_s", "meter_w", "power_draw_w", "power_draw_instant_w"],
                [[number(t, 6), number(m, 2), number(d, 2), number(i, 2)] for t, m, d, i in rows], {
        "title": "A100 square-wave load: on-board power readings against an external meter (SC'24)",
        "gpu": "A100",
        "nvml_name": "NVIDIA A100",
        "workload": "a square-wave micro-benchmark, about 50 % duty cycle between about 56 W and 200 W",
        "source": f"JimZeyuYang/GPU_Power_Benchmark@{SC24_COMMIT[:7]} (Yang et al., SC'24)",
        "source_url": f"https://github.com/JimZeyuYang/GPU_Power_Benchmark/tree/{SC24_COMMIT}/plotting/data/5050/A100",
        "paper": "Yang et al., 'Accurate and Convenient Energy Measurements for GPUs: A Detailed Study of NVIDIA "
                 "GPU's Built-in Power Sensor', SC'24",
        "commit": SC24_COMMIT,
        "license": "MIT",
        "license_file": A100_LICENCE,
        "series": {
            "meter_w": "external power meter (PMD) on the PCIe slot and power cables, ~4.8 kHz: the reference",
            "power_draw_w": "nvidia-smi power.draw, ~14 ms apart",
            "power_draw_instant_w": "nvidia-smi power.draw.instant, ~14 ms apart",
        },
        "replay_column": "meter_w",
        "processing": [
            "meter: PMD_data.bin decoded by lepton_lab.traces.pmd as the artifact's decoder does (first sample at "
            "PMD_start_ts - 50 ms; 2,933.5 counts per ms, where PROVENANCE.md says 2,934.5: 0.03 % of the time axis)",
            "nvidia-smi: local UTC+1 time stamps moved back 3,600 s to the meter's UTC",
            "t_s counts from the earliest sample of either; each row holds only the series read at that instant",
            "lepton_lab.traces.convert: time to 1 µs, power to 0.01 W",
        ],
        "caveats": ["nvidia-smi starts ~0.45 s before the meter and ends ~2.3 s after it: compare only where "
                    "both have data"],
        "rows": {"meter_w": len(meter_t), "nvidia-smi": len(smi)},
        "converted_by": "lepton_lab.traces.convert",
    })
    shutil.copyfile(folder / "LICENSE", out / A100_LICENCE)
    return A100_NAME


def convert(raw: Path = DEFAULT_RAW, out: Path = DEFAULT_OUT) -> list[str]:
    """Convert every raw set found under ``raw`` into ``out``; the names written."""
    out.mkdir(parents=True, exist_ok=True)
    return [*convert_h100(raw, out), convert_a100(raw, out)]


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    written = convert(*args)
    print(f"wrote {len(written)} traces: {', '.join(written)}")
