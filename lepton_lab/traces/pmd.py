"""The external power meter's binary records (the SC'24 artifact's ``PMD_data.bin``).

A power measurement device (PMD) on the A100's PCIe slot and power cables wrote 18-byte
little-endian records of nine unsigned 16-bit words: a timestamp counter, then four
(voltage, current) pairs for PCIe 1, PCIe 2, EPS 1 and EPS 2. Decoded as the artifact's own
decoder does (``source/GPU_pwr_benchmark.py``, ``_convert_pmd_data``, at commit 4b5c944):

- the counter wraps at 65,536 and runs at 2,933.5 counts per millisecond (the decoder's divisor;
  the project's PROVENANCE.md says 2,934.5: 0.03 % of the time axis, not enough to move any
  energy compared here);
- each pair value is 12 bits in bits 4-15 of its word, taken as 0 when the top one of those 12
  bits is set;
- volts = value × 0.007568 (EPS 1: × 0.0075), amperes = value × 0.0488, and the board's power is
  the sum of the four products;
- the first record is stamped at the start time in ``PMD_start_ts.txt`` minus 50 ms.
"""
from __future__ import annotations

import struct
from pathlib import Path

RECORD = struct.Struct("<9H")
COUNTS_PER_MS = 2933.5
COUNTER_WRAP = 65_536
START_OFFSET_US = 50_000
VOLTS_PER_COUNT = (0.007568, 0.007568, 0.0075, 0.007568)  # PCIe 1, PCIe 2, EPS 1, EPS 2
AMPS_PER_COUNT = 0.0488


def _value(word: int) -> int:
    value = (word >> 4) & 0x0FFF
    return 0 if value & (1 << 11) else value


def decode(data: bytes, start_us: int) -> tuple[list[float], list[float]]:
    """(epoch seconds, watts) of every record in ``data``; ``start_us`` from PMD_start_ts.txt."""
    times: list[float] = []
    watts: list[float] = []
    counts = 0
    last = 0
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        words = RECORD.unpack_from(data, offset)
        counts += words[0] - last + (COUNTER_WRAP if words[0] < last else 0)
        last = words[0]
        times.append(counts / COUNTS_PER_MS / 1000.0)
        watts.append(sum(_value(words[1 + 2 * i]) * volts * _value(words[2 + 2 * i]) * AMPS_PER_COUNT
                         for i, volts in enumerate(VOLTS_PER_COUNT)))
    origin = (start_us - START_OFFSET_US) / 1e6 - (times[0] if times else 0.0)
    return [origin + t for t in times], watts


def read(folder: Path) -> tuple[list[float], list[float]]:
    """Decode ``PMD_data.bin`` with ``PMD_start_ts.txt`` from ``folder``."""
    start_us = int((folder / "PMD_start_ts.txt").read_text().split()[0])
    return decode((folder / "PMD_data.bin").read_bytes(), start_us)
