"""Record this GPU's power into the package's trace format (run by gpu_session.sh on a GPU machine).

    python benchmarks/record_trace.py OUT_FOLDER [--seconds 20]

Two workloads, each measured with lepton_lab (NVML: the energy counter at the edges, the instant
power field every 50 ms): a short training loop of matrix products, and an inference sweep over
batch sizes 1 to 4096 with a second of idle between them. Each becomes ``NAME.csv.gz`` + ``NAME.json``
in OUT_FOLDER, written by the converter's own writer (``lepton_lab.traces.convert.write_trace``),
with provenance: GPU model, driver, date, and that this script recorded it. To ship one, copy it to
``lepton_lab/data/traces/``. Without a CUDA GPU it says so and records nothing.
"""
from __future__ import annotations

import argparse
import datetime
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _gpu_facts() -> dict[str, str]:
    import pynvml

    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        driver = pynvml.nvmlSystemGetDriverVersion()
        limit_w = pynvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000
    finally:
        pynvml.nvmlShutdown()
    text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731  (older pynvml gives bytes)
    return {"gpu_model": text(name), "driver": text(driver), "power_limit_w": f"{limit_w:g}"}


def _training_loop(seconds: float) -> None:
    import torch

    x = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    optimiser = torch.optim.SGD([w], lr=1e-6)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        loss = (x @ w).float().pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    torch.cuda.synchronize()


def _batch_sweep(seconds_each: float) -> None:
    import torch

    w = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    for batch in (1, 8, 64, 512, 4096):
        x = torch.randn(batch, 4096, device="cuda", dtype=torch.bfloat16)
        end = time.perf_counter() + seconds_each
        while time.perf_counter() < end:
            for _ in range(16):
                y = x @ w
            torch.cuda.synchronize()
        del y
        time.sleep(1.0)


def _record(name: str, title: str, workload: str, run, out: Path, facts: dict[str, str]) -> str:
    import lepton_lab
    from lepton_lab.traces.convert import number, write_trace

    with lepton_lab.measure(label=f"record {name}", sensors="nvml", gpus="0", interval=0.05) as block:
        run()
    report = block.report
    trace = report.trace
    rows = [[number(t, 3), number(w, 2)] for t, w in zip(trace["t_s"], trace["power_w"]["gpu:0"])]
    today = datetime.date.today().isoformat()
    write_trace(out, name, ["t_s", "power_w"], rows, {
        "title": f"{facts['gpu_model']}: {title}",
        "gpu": facts["gpu_model"].replace("NVIDIA ", "").split()[0],
        "workload": workload,
        "source": f"recorded by benchmarks/record_trace.py (lepton_lab) on {today}",
        "recorded": {**facts, "date": today, "host": socket.gethostname(),
                     "energy_counter_j": round(report.energy_j, 3), "duration_s": round(report.duration_s, 3)},
        "license": "BSD-3-Clause (recorded by the lepton_lab project)",
        "license_file": "",
        "series": {"power_w": "NVML instant power field (NVML_FI_DEV_POWER_INSTANT), read every 50 ms"},
        "replay_column": "power_w",
        "processing": ["lepton_lab's sampler, as %%energy reads it; time to 1 ms, power to 0.01 W"],
        "caveats": ["one run on one machine; the energy counter's total is in 'recorded'"],
        "converted_by": "benchmarks/record_trace.py",
    })
    print(f"recorded {name}: {report.energy_j:.0f} J over {report.duration_s:.1f} s "
          f"(counter), {len(rows)} samples", flush=True)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the training loop")
    args = parser.parse_args(argv)
    try:
        import torch
        gpu = torch.cuda.is_available()
    except ImportError:
        gpu = False
    if not gpu:
        print("record_trace: skipped: no CUDA GPU here (torch sees none), so nothing to record", flush=True)
        return 0
    facts = _gpu_facts()
    short = facts["gpu_model"].replace("NVIDIA ", "").split()[0].lower()
    stamp = datetime.date.today().strftime("%Y%m%d")
    _record(f"{short}-matmul-training-{stamp}", "bf16 4096x4096 training steps",
            f"{args.seconds:g} s of SGD steps on a bf16 4096x4096 matrix product (torch)",
            lambda: _training_loop(args.seconds), args.out, facts)
    _record(f"{short}-batch-sweep-{stamp}", "inference batch sweep 1-4096",
            "bf16 matrix-vector to matrix products at batch sizes 1, 8, 64, 512, 4096, 3 s each, 1 s idle between",
            lambda: _batch_sweep(3.0), args.out, facts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
