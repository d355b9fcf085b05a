"""Many reports as one table (a pandas DataFrame): what ``compare()``, ``Comparison.table`` and
``Sweep.table`` return. Beside :class:`~lepton_lab.report.EnergyReport`, below every view."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import require
from .report import EnergyReport

#: The columns every table has, before one ``<domain> J`` column per domain.
COLUMNS = ("label", "id", "energy_j", "duration_s", "mean_w", "co2e_g", "kind", "status")


def reports_table(reports: Iterable[EnergyReport], purpose: str = "a table of reports") -> Any:
    """One row per report: the :data:`COLUMNS`, then joules per domain (``gpu:0 J`` ...)."""
    pd = require("pandas", "data", purpose)
    rows = []
    for report in reports:
        row = {"label": report.label, "id": report.id, "energy_j": report.energy_j,
               "duration_s": report.duration_s, "mean_w": report.mean_w, "co2e_g": report.co2e_g,
               "kind": report.kind, "status": report.status}
        for domain, values in report.domains.items():
            row[f"{domain} J"] = values.energy_j
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else list(COLUMNS))
