"""Run cells in a real kernel with and without ``%%energy``, and compare what they output.

Both runs start with the same prelude cell, which seeds ``random`` and numpy so that cells drawing
random numbers print the same ones; the measured run also loads the extension there. After that,
every code cell runs as published in one kernel, and with ``%%energy`` added as its first line in
another. The outputs are compared after this normalisation, each rule for a reason that has
nothing to do with lepton_lab changing the cell:

- lepton_lab's own outputs are dropped: displays tagged with its output metadata, and its
  ``lepton_lab: ...`` lines on stderr (what the magic adds, not what the cell does);
- each run works in its own copy of the notebook's folder, shown as ``<folder>``;
- memory addresses (``0x7f...``), temporary kernel file names, dates, and timings
  (``%timeit``/``%%time`` lines and the "slowest run took" warning, numbers with a time unit)
  vary from run to run;
- widget model ids, UUIDs and display ids are fresh in each kernel; so are the names of the
  temporary files IPython compiles a cell under, which hash the raw cell (``1397204736.py``);
- a blank cell gets no ``%%energy``: IPython does not run a blank cell at all (no ``In[N]``),
  and with the magic it would no longer be blank.

Everything else, including execution counts, error names, messages and whole tracebacks with
their line numbers, must be identical.
"""
from __future__ import annotations

import asyncio
import copy
import difflib
import json
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MAGIC = "%%energy"
PRELUDE = ("import random as _seed_random\n_seed_random.seed(0)\n"
           "try:\n    import numpy as _seed_numpy\n    _seed_numpy.random.seed(0)\n"
           "except ImportError:\n    pass\n")
LOAD = "%load_ext lepton_lab\n"
OUTPUT_METADATA_KEY = "lepton_lab"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_RULES = [
    # %timeit's warning appears or not depending on how the machine's speed varied during the runs.
    (re.compile(r"^The slowest run took .*\n", re.M), ""),
    (re.compile(r"^.*(per loop|loops each|CPU times:|Wall time:).*$", re.M), "<timing line>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s|min)\b"), "<time>"),
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0x<address>"),
    (re.compile(r"/tmp/ipykernel_\d+/\d+\.py"), "<kernel file>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T,]+\d\d:\d\d:\d\d(?:\.\d+)?"), "<datetime>"),
    (re.compile(r"datetime\.datetime\([\d, ]+\)"), "<datetime>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\b\d+\.py\b"), "<cell file>"),
]


def normalise_text(text: str) -> str:
    text = _ANSI.sub("", text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _is_ours(output: dict) -> bool:
    return OUTPUT_METADATA_KEY in (output.get("metadata") or {})


def _normalise_value(value):
    if isinstance(value, str):
        return normalise_text(value)
    if isinstance(value, list):
        return [_normalise_value(v) for v in value]
    if isinstance(value, dict):
        return {k: ("<model>" if k == "model_id" else _normalise_value(v)) for k, v in value.items()}
    return value


def normalise_outputs(outputs: list[dict]) -> list[dict]:
    kept: list[dict] = []
    for output in outputs:
        output = copy.deepcopy(dict(output))
        if _is_ours(output):
            continue
        if output["output_type"] == "stream":
            text = "".join(line for line in output["text"].splitlines(keepends=True)
                           if not line.startswith("lepton_lab: "))
            if not text:
                continue
            if kept and kept[-1]["output_type"] == "stream" and kept[-1]["name"] == output["name"]:
                kept[-1]["text"] += text  # the front end shows adjacent stream outputs as one
                continue
            output["text"] = text
        kept.append(output)
    return [_normalise_value(o) for o in kept]


@contextmanager
def _environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _client(cells: list[str], cwd: Path, timeout: int) -> NotebookClient:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    return NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                          resources={"metadata": {"path": str(cwd)}})


def run_notebooks(runs: list[tuple[list[str], Path]], env: dict[str, str], *,
                  timeout: int = 120) -> list[list[list[dict]]]:
    """Run each ``(cells, working directory)`` in its own fresh kernel, all at once; the outputs
    per cell of each run (errors allowed: a failing cell is part of what is compared)."""
    clients = [_client(cells, cwd, timeout) for cells, cwd in runs]

    async def run_all():
        await asyncio.gather(*(client.async_execute() for client in clients))

    with _environment(env):
        asyncio.run(run_all())
    return [[list(cell.get("outputs", [])) for cell in client.nb.cells] for client in clients]


def with_magic(cell: str, flags: str = "") -> str:
    if not cell.strip():
        return cell
    return f"{MAGIC} {flags}".rstrip() + "\n" + cell


def shape_of(outputs: list[dict]) -> list[tuple]:
    """What kind of outputs a cell made (types, stream names, mime types, error names), not their content."""
    return [(o["output_type"], o.get("name"), tuple(sorted(o.get("data", {}))), o.get("ename")) for o in outputs]


@dataclass
class Difference:
    index: int
    source: str
    diff: str

    def __str__(self) -> str:
        first = self.source.strip().splitlines()[0] if self.source.strip() else "(empty)"
        return f"cell {self.index} ({first[:60]!r}):\n{self.diff}"


def _fresh_copy(source: Path, workdir: Path) -> Path:
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(source, workdir)
    return workdir


def _replace_path(value, path: str):
    """The run's own folder as ``<folder>``: the two runs work in two copies of the notebook's folder."""
    if isinstance(value, str):
        return value.replace(path, "<folder>")
    if isinstance(value, list):
        return [_replace_path(v, path) for v in value]
    if isinstance(value, dict):
        return {k: _replace_path(v, path) for k, v in value.items()}
    return value


def compare_runs(cells: list[str], folder: Path, workdir: Path, env: dict[str, str], *,
                 flags: str = "", timeout: int = 120, documented: frozenset[int] = frozenset(),
                 on_purpose: frozenset[int] = frozenset(), measured_cells: list[str] | None = None):
    """Run ``cells`` plain and ``measured_cells`` (default: each under ``%%energy FLAGS``) in two
    fresh kernels at once, each in its own copy of ``folder`` under ``workdir``.

    Returns both runs' outputs and the cells whose outputs differ. Cells in ``documented`` print
    something that differs for a stated reason (the raw input history, say): for them only the
    shape of the outputs is compared (see :func:`shape_of`). Cells in ``on_purpose`` differ by
    lepton_lab's design, documented in the README; their own tests check what they show instead.
    """
    if measured_cells is None:
        measured_cells = [with_magic(c, flags) for c in cells]
    plain_dir = _fresh_copy(folder, workdir / "plain")
    measured_dir = _fresh_copy(folder, workdir / "measured")
    plain, measured = run_notebooks([([PRELUDE] + cells, plain_dir), ([PRELUDE + LOAD] + measured_cells, measured_dir)],
                                    env, timeout=timeout)
    differences = []
    for index, (source, a, b) in enumerate(zip(cells, plain[1:], measured[1:])):
        if index in on_purpose:
            continue
        left = normalise_outputs(_replace_path(a, str(plain_dir)))
        right = normalise_outputs(_replace_path(b, str(measured_dir)))
        if index in documented:  # its content differs for a stated reason: compare what it made
            left, right = shape_of(left), shape_of(right)
        if left != right:
            diff = "\n".join(difflib.unified_diff(
                json.dumps(left, indent=1, sort_keys=True).splitlines(),
                json.dumps(right, indent=1, sort_keys=True).splitlines(),
                "without %%energy", "with %%energy", lineterm="", n=2))
            differences.append(Difference(index, source, diff))
    return plain[1:], measured[1:], differences


def code_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]
