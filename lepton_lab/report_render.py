"""Text and HTML renderings of an EnergyReport (kept apart so report.py stays plain data)."""
from __future__ import annotations

import html
from dataclasses import dataclass

from . import units
from .sensors import kinds


@dataclass(frozen=True)
class _Summary:
    """What a summary says, worked out once; the text and the HTML only lay it out."""

    title: str
    status: str
    banner: str
    view: str  # whose energy, and why: "this kernel's share (other processes used 43% of the CPUs)"
    split: str | None  # in the process view: the machine's energy and how it was split
    methods: str
    energy: str
    totals: str  # after the energy: Wh, uncertainty, mean and peak power, duration
    net: str | None
    carbon: str
    rows: list[tuple[str, str, str, str, str, str]]  # label, energy, avg, peak, method, net
    notes: list[str]
    warnings: list[str]
    saved: bool


def _view(report) -> tuple[str, str | None]:
    info = report.attribution
    if info is None:
        return "", None
    if info.view == "machine":
        return f"whole machine ({info.why})", None
    idle = sum(d.idle_energy_j or 0.0 for d in report.domains.values())
    machine = report.machine_energy_j
    dynamic = machine - idle
    mine = sum((d.share or 0.0) * (d.machine_j - (d.idle_energy_j or 0.0)) for d in report.domains.values())
    part = f"{mine / dynamic:.1%}" if dynamic > 0 else "n/a"
    if info.idle_sessions == 1:
        idle_text = f"idle {units.format_energy(idle)} (all charged: no other measurement overlapped this one)"
    elif info.idle_sessions:
        idle_text = (f"idle {units.format_energy(idle)} (1/{info.idle_sessions} charged: "
                     f"{info.idle_sessions} measured sessions overlapped this one)")
    else:
        idle_text = f"idle {units.format_energy(idle)} (not charged)"
    return (f"this kernel's share ({info.why})",
            f"whole machine {units.format_energy(machine)}: {idle_text}, this kernel {part} of the rest")


def _summary(report) -> _Summary:
    peak = units.format_power(report.peak_w) if report.peak_w is not None else "n/a"
    view, split = _view(report)
    if split:  # the trace is the machine's: its peak is not this kernel's
        peak = f"{peak} (machine)"
    uncertainty = ""
    if report.energy_j > 0 and report.uncertainty_j > 0:
        uncertainty = f" ± {units.format_energy(report.uncertainty_j)}"
    totals = (f"({units.format_wh(report.energy_j)}){uncertainty} · avg {units.format_power(report.mean_w)}"
              f" · peak {peak} · {units.format_duration(report.duration_s)}")
    net = None
    if report.net_energy_j is not None and not split:
        net = f"net of idle ({report.baseline_s:g} s baseline): {units.format_energy(report.net_energy_j)}"
        if report.kind == kinds.ESTIMATED:  # its baseline is other processes' load, not idle
            net = (f"above the {report.baseline_s:g} s baseline: {units.format_energy(report.net_energy_j)} "
                   f"(not net of idle: {kinds.ESTIMATE_HAS_NO_IDLE})")
    if report.co2e_g is None:
        carbon = "CO2e n/a (no carbon intensity)"
    else:
        carbon = f"CO2e {units.format_mass_g(report.co2e_g)} ({report.carbon.describe()})"
    rows = _host_rows(report) if report.hosts else []
    if report.hosts:
        view = f"{len(report.hosts)} host{'s' if len(report.hosts) > 1 else ''} of a Dask cluster"
    for name, d in report.domains.items() if len(report.domains) > 1 and not report.hosts else ():
        rows.append((d.label or name, units.format_energy(d.energy_j), units.format_power(d.mean_w),
                     units.format_power(d.peak_w) if d.peak_w is not None else "n/a", d.method,
                     f"net {units.format_energy(d.net_energy_j)}" if d.net_energy_j is not None else ""))
    notes = list(report.notes)
    if split and report.attribution.idle not in notes:
        notes.append(report.attribution.idle)
    return _Summary(report.label or "measurement", report.status, kinds.banner(report.kind, report.replayed_from),
                    view, split, report.methods,
                    units.format_energy(report.energy_j), totals, net, carbon, rows, notes,
                    list(getattr(report, "warnings", [])), report.saved)


#: Rows of the per-host table; beyond it the rest is summed into one row.
TABLE_HOSTS = 10


def _host_rows(report) -> list[tuple[str, str, str, str, str, str]]:
    """One row per host of a cluster measurement, largest first, the smallest summed past TABLE_HOSTS."""
    hosts = sorted(report.hosts.items(), key=lambda item: -item[1]["energy_j"])
    duration = report.duration_s if report.duration_s > 0 else float("inf")

    def row(name: str, energy: float, methods: str, peak: float | None = None) -> tuple[str, str, str, str, str, str]:
        return (name, units.format_energy(energy), units.format_power(energy / duration),
                units.format_power(peak) if peak is not None else "n/a", methods, "")

    rows = []
    for name, host in hosts[:TABLE_HOSTS - 1] if len(hosts) > TABLE_HOSTS else hosts:
        workers = host.get("workers") or 0
        label = f"{name} ({workers} worker{'s' if workers != 1 else ''})" if workers else f"{name} (this notebook)"
        if host.get("status") in ("lost", "joined"):
            label += f" · {host['status'].upper()}"
        rows.append(row(label, host["energy_j"], ",".join(host.get("methods", [])), host.get("peak_w")))
    rest = hosts[TABLE_HOSTS - 1:] if len(hosts) > TABLE_HOSTS else []
    if rest:
        rows.append(row(f"{len(rest)} other hosts", sum(h["energy_j"] for _, h in rest),
                        ",".join(sorted({m for _, h in rest for m in h.get("methods", [])}))))
    return rows


def render_text(report) -> str:
    s = _summary(report)
    status = "" if s.status == "ok" else f" · {s.status}"
    view = f" · {s.view}" if s.view else ""
    lines = [f"⚡ {s.title}{status} · {s.banner}{view} ({s.methods})", f"   energy {s.energy} {s.totals}"]
    for extra in (s.split, s.net):
        if extra:
            lines.append(f"   {extra}")
    lines.append(f"   {s.carbon}")
    for label, energy, avg, peak, method, net in s.rows:
        lines.append(f"   - {label}: {energy} · avg {avg} · peak {peak} · {method}{'  ' + net if net else ''}")
    lines += [f"   warning: {w}" for w in s.warnings] + [f"   note: {n}" for n in s.notes]
    if not s.saved:
        lines.append("   not saved in the ledger (see the warning above)")
    return "\n".join(lines)


_STYLE = (
    "font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; border-left: 4px solid {c};"
    " padding: 6px 10px; margin: 4px 0; background: var(--jp-layout-color1, #fff);"
)


def render_html(report) -> str:
    esc = html.escape
    s = _summary(report)
    colour = "#c62828" if s.status != "ok" else "#2e7d32" if report.is_measurement else "#e65100"
    status = "" if s.status == "ok" else f" · <b>{esc(s.status)}</b>"
    banner = esc(s.banner) if report.is_measurement else f"<b style='color:#e65100'>{esc(s.banner)}</b>"
    view = f" · <b>{esc(s.view)}</b>" if s.view.startswith("this kernel") else f" · {esc(s.view)}" if s.view else ""
    parts = [f"<div class='lepton-report' style=\"{_STYLE.format(c=colour)}\">",
             f"<div>⚡ <b>{esc(s.title)}</b>{status} · {banner}{view} "
             f"<span style='opacity:.7'>({esc(s.methods)})</span></div>",
             f"<div><b>{esc(s.energy)}</b> {esc(s.totals)}</div>"]
    for extra in (s.split, s.net):
        if extra:
            parts.append(f"<div>{esc(extra)}</div>")
    parts.append(f"<div>{esc(s.carbon)}</div>")
    if s.rows:
        first = "host" if report.hosts else "domain"
        parts.append(f"<table style='margin-top:4px;font-size:12px'><tr><th align=left>{first}</th><th>energy</th>"
                     "<th>avg</th><th>peak</th><th>method</th></tr>")
        for label, energy, avg, peak, method, _ in s.rows:
            parts.append(f"<tr><td>{esc(label)}</td><td align=right>{esc(energy)}</td><td align=right>{esc(avg)}</td>"
                         f"<td align=right>{esc(peak)}</td><td>{esc(method)}</td></tr>")
        parts.append("</table>")
    parts += [f"<div style='color:#9a6700'>⚠ {esc(w)}</div>" for w in s.warnings]
    if s.notes:
        # How this machine is measured is the same for every run: folded, one click away.
        items = "".join(f"<div style='opacity:.8'>{esc(n)}</div>" for n in s.notes)
        parts.append(f"<details style='opacity:.85'><summary style='cursor:pointer'>how this was measured "
                     f"({len(s.notes)} note{'s' if len(s.notes) > 1 else ''})</summary>{items}</details>")
    if not s.saved:
        parts.append("<div style='color:#c62828'>not saved in the ledger</div>")
    parts.append("</div>")
    return "".join(parts)
