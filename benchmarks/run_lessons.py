"""Run lessons through a real kernel and keep the executed notebooks (gpu_session.sh uses it).

    python benchmarks/run_lessons.py OUT_FOLDER 02 03 04

Each lesson runs as CI runs it (set LEPTON_FAST=1 for the quick mode); the executed notebook goes
to OUT_FOLDER, and one line per lesson says whether it ran on CUDA and how long it took.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parents[1] / "notebooks"


def main(argv: list[str]) -> int:
    out, prefixes = Path(argv[0]), argv[1:]
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for prefix in prefixes:
        (path,) = sorted(LESSONS.glob(f"{prefix}_*.ipynb"))
        notebook = nbformat.read(path, as_version=4)
        started = time.monotonic()
        try:
            NotebookClient(notebook, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(LESSONS)}}).execute()
            status = "ok"
        except Exception as exc:  # keep going: the other lessons still tell something
            status, failed = f"FAILED: {type(exc).__name__}", failed + 1
        text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                       for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
        device = "CUDA" if "cuda" in text.lower() else "CPU"
        nbformat.write(notebook, out / path.name)
        print(f"{path.stem}: {status} on {device} in {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
