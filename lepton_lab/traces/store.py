"""The shipped trace files themselves: names, provenance and series (standard library only)."""
from __future__ import annotations

import csv
import functools
import gzip
import io
import json
from importlib import resources
from typing import Any

from ..errors import InvalidInput, require


def _files() -> Any:
    return resources.files("lepton_lab").joinpath("data").joinpath("traces")


@functools.lru_cache(maxsize=1)
def names() -> tuple[str, ...]:
    """Every shipped trace, by name."""
    return tuple(sorted(p.name.removesuffix(".json") for p in _files().iterdir() if p.name.endswith(".json")))


def check_name(name: Any) -> str:
    """``name`` if a trace has it, else a one-line error that lists the names."""
    text = str(name).strip()
    if text not in names():
        raise InvalidInput(f"no recorded trace named '{text}': choose from {', '.join(names())}")
    return text


@functools.cache
def info(name: str) -> dict[str, Any]:
    """The provenance of a trace: source, commit, license, gpu, workload, series, processing, caveats."""
    data: dict[str, Any] = json.loads(_files().joinpath(f"{check_name(name)}.json").read_text(encoding="utf-8"))
    return data


@functools.lru_cache(maxsize=8)
def _columns(name: str) -> dict[str, list[float | None]]:
    raw = gzip.decompress(_files().joinpath(f"{check_name(name)}.csv.gz").read_bytes()).decode("utf-8")
    reader = csv.reader(io.StringIO(raw))
    header = next(reader)
    columns: dict[str, list[float | None]] = {column: [] for column in header}
    for row in reader:
        for column, value in zip(header, row):
            columns[column].append(float(value) if value else None)
    return columns


def series(name: str, column: str | None = None) -> tuple[list[float], list[float]]:
    """(seconds, watts) of one series of a trace (default: the one a replay plays), its gaps dropped."""
    column = column or info(name)["replay_column"]
    columns = _columns(name)
    if column not in columns or column == "t_s":
        raise InvalidInput(f"trace '{name}' has no series '{column}': it has {', '.join(list(columns)[1:])}")
    pairs = [(t, w) for t, w in zip(columns["t_s"], columns[column]) if t is not None and w is not None]
    return [t for t, _ in pairs], [w for _, w in pairs]


def load(name: str) -> Any:
    """The trace as a pandas DataFrame (``t_s`` then watts per series), its provenance in ``.attrs``.

    Series recorded at different instants (a meter and nvidia-smi) share the ``t_s`` column, each
    empty (NaN) where it was not read: ``frame[["t_s", column]].dropna()`` gives one series."""
    pd = require("pandas", "data", "lepton_lab.traces.load()")
    frame = pd.DataFrame({column: pd.array(values, dtype="Float64").astype(float)
                          for column, values in _columns(name).items()})
    frame.attrs.update(info(name))
    return frame
