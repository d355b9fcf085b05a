"""CPU thermal design power (TDP) table, matched against the CPU's model name.

The table ships with the package (``lepton_lab/data/cpu_tdp.csv``, compiled by the Green Algorithms
project from vendor spec pages; see its header). The estimate sensor divides TDP by cores to get a
watts-per-core figure when no energy counter can be read. Standard library only.
"""
from __future__ import annotations

import csv
import functools
import io
import platform
import re
from dataclasses import dataclass
from importlib import resources

DATA_FILE = "cpu_tdp.csv"
CPUINFO = "/proc/cpuinfo"

_TRADEMARKS = re.compile(r"\((?:R|TM|C)\)|[®™]", re.IGNORECASE)
_FREQUENCY = re.compile(r"@\s*[\d.]+\s*[GM]Hz", re.IGNORECASE)
_CPU_WORD = re.compile(r"\bCPU\b", re.IGNORECASE)


@dataclass(frozen=True)
class CpuTdp:
    model: str
    tdp_w: float
    cores: int
    source: str


def normalise(model_name: str) -> str:
    """'Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz' -> 'Intel Xeon Gold 6248'."""
    text = _TRADEMARKS.sub(" ", model_name)
    text = _FREQUENCY.sub(" ", text)
    text = _CPU_WORD.sub(" ", text)
    return " ".join(text.split())


def _parse(text: str) -> tuple[CpuTdp, ...]:
    source = "unknown source"
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            directive = line.lstrip("#").strip()
            if directive.startswith("@default-source "):
                source = directive[len("@default-source "):].strip()
            continue
        if line.strip():
            body.append(line)
    rows = []
    for rec in csv.DictReader(io.StringIO("\n".join(body))):
        rows.append(CpuTdp(model=" ".join(rec["model"].split()), tdp_w=float(rec["tdp_w"]),
                           cores=int(rec["cores"]), source=source))
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def table() -> tuple[CpuTdp, ...]:
    """Every row of the shipped table."""
    text = resources.files("lepton_lab").joinpath("data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return _parse(text)


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _contains_model(name: str, model: str) -> bool:
    """``model`` occurs in ``name`` as a whole run of tokens (both lower-case):
    'core i5-10400' is not found in 'core i5-10400t'."""
    start = name.find(model)
    while start >= 0:
        end = start + len(model)
        if (start == 0 or not _is_word_char(name[start - 1])) and (end == len(name) or not _is_word_char(name[end])):
            return True
        start = name.find(model, start + 1)
    return False


@functools.lru_cache(maxsize=1)
def _lowered() -> tuple[tuple[str, CpuTdp], ...]:
    return tuple((row.model.lower(), row) for row in table())


def lookup_tdp(model_name: str | None) -> CpuTdp | None:
    """The row whose model string is the longest one found in the normalised ``model_name``.

    A plain search rather than one regular expression per row: compiling ~100 patterns cost
    ~35 ms, on the path of the first measurement in a process."""
    if not model_name:
        return None
    name = normalise(model_name).lower()
    best = None
    for model, row in _lowered():
        if _contains_model(name, model) and (best is None or len(row.model) > len(best.model)):
            best = row
    return best


def cpu_model_name(cpuinfo_path: str = CPUINFO) -> str | None:
    """The CPU model from ``/proc/cpuinfo`` ('model name'), else ``platform.processor()``, else None."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, sep, value = line.partition(":")
                if sep and key.strip().lower() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    name = platform.processor().strip()
    return name or None
