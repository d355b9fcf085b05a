"""Text and HTML renderings of an EnergyReport (kept apart so report.py stays plain data)."""
from __future__ import annotations

import html

from . import units
from .sensors import kinds


def _uncertainty(report) -> str:
    if report.energy_j <= 0 or report.uncertainty_j <= 0:
        return ""
    return f" ± {units.format_energy(report.uncertainty_j)}"


def _carbon_line(report) -> str:
    if report.co2e_g is None:
        return "CO2e n/a (no carbon intensity)"
    return f"CO2e {units.format_mass_g(report.co2e_g)} ({report.carbon.describe()})"


def _domain_rows(report):
    for name, d in report.domains.items():
        peak = units.format_power(d.peak_w) if d.peak_w is not None else "n/a"
        net = f"  net {units.format_energy(d.net_energy_j)}" if d.net_energy_j is not None else ""
        label = d.label or name
        yield name, label, d, peak, net


def render_text(report) -> str:
    lines = []
    status = "" if report.status == "ok" else f" · {report.status}"
    kind = kinds.banner(report.kind)
    lines.append(f"⚡ {report.label or 'measurement'}{status} · {kind} ({report.methods})")
    peak = units.format_power(report.peak_w) if report.peak_w is not None else "n/a"
    lines.append(
        f"   energy {units.format_energy(report.energy_j)} ({units.format_wh(report.energy_j)})"
        f"{_uncertainty(report)} · avg {units.format_power(report.mean_w)} · peak {peak}"
        f" · {units.format_duration(report.duration_s)}"
    )
    if report.net_energy_j is not None:
        lines.append(
            f"   net of idle ({report.baseline_s:g} s baseline): {units.format_energy(report.net_energy_j)}"
        )
    lines.append(f"   {_carbon_line(report)}")
    if len(report.domains) > 1:
        for _, label, d, peak, net in _domain_rows(report):
            lines.append(
                f"   - {label}: {units.format_energy(d.energy_j)} · avg {units.format_power(d.mean_w)}"
                f" · peak {peak} · {d.method}{net}"
            )
    for note in report.notes:
        lines.append(f"   note: {note}")
    if not report.saved:
        lines.append("   not saved in the ledger (see the warning above)")
    return "\n".join(lines)


_STYLE = (
    "font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; border-left: 4px solid {c};"
    " padding: 6px 10px; margin: 4px 0; background: var(--jp-layout-color1, #fff);"
)


def render_html(report) -> str:
    esc = html.escape
    colour = "#2e7d32" if report.is_measurement else "#e65100"
    if report.status != "ok":
        colour = "#c62828"
    status = "" if report.status == "ok" else f" · <b>{esc(report.status)}</b>"
    kind = esc(kinds.banner(report.kind))
    if not report.is_measurement:
        kind = f"<b style='color:#e65100'>{kind}</b>"
    parts = [f"<div class='lepton-report' style=\"{_STYLE.format(c=colour)}\">"]
    parts.append(
        f"<div>⚡ <b>{esc(report.label or 'measurement')}</b>{status} · {kind} "
        f"<span style='opacity:.7'>({esc(report.methods)})</span></div>"
    )
    peak = units.format_power(report.peak_w) if report.peak_w is not None else "n/a"
    parts.append(
        f"<div><b>{esc(units.format_energy(report.energy_j))}</b> ({esc(units.format_wh(report.energy_j))})"
        f"{esc(_uncertainty(report))} · avg {esc(units.format_power(report.mean_w))} · peak {esc(peak)}"
        f" · {esc(units.format_duration(report.duration_s))}</div>"
    )
    if report.net_energy_j is not None:
        parts.append(
            f"<div>net of idle ({report.baseline_s:g} s baseline): "
            f"<b>{esc(units.format_energy(report.net_energy_j))}</b></div>"
        )
    parts.append(f"<div>{esc(_carbon_line(report))}</div>")
    if len(report.domains) > 1:
        parts.append("<table style='margin-top:4px;font-size:12px'>")
        parts.append("<tr><th align=left>domain</th><th>energy</th><th>avg</th><th>peak</th><th>method</th></tr>")
        for _, label, d, peak, _ in _domain_rows(report):
            parts.append(
                f"<tr><td>{esc(label)}</td><td align=right>{esc(units.format_energy(d.energy_j))}</td>"
                f"<td align=right>{esc(units.format_power(d.mean_w))}</td><td align=right>{esc(peak)}</td>"
                f"<td>{esc(d.method)}</td></tr>"
            )
        parts.append("</table>")
    for note in report.notes:
        parts.append(f"<div style='opacity:.75'>note: {esc(note)}</div>")
    if not report.saved:
        parts.append("<div style='color:#c62828'>not saved in the ledger</div>")
    parts.append("</div>")
    return "".join(parts)
