"""What lessons 01, 06 and 07 claim in their printed text, checked against their printed numbers.

Each function takes an executed notebook (nbformat) and asserts; the messages quote the line."""
from __future__ import annotations

import html
import re

LOAD = re.compile(r"other processes used (\d+)% of [^,]+, (over|at most) (\d+)%")
PERCENT = r"(-?\d+(?:\.\d+)?)%"
_PREFIX = {"G": 1e9, "M": 1e6, "k": 1e3, "": 1.0, "m": 1e-3, "µ": 1e-6}


def _text(output) -> str:
    data = output.get("data", {})
    return str(output.get("text", "")) + str(data.get("text/plain", "")) + str(data.get("text/html", ""))


def all_text(notebook) -> str:
    return "".join(_text(o) for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", []))


def cell_outputs(notebook, marker: str) -> list:
    """The outputs of every code cell whose source contains ``marker``."""
    return [o for cell in notebook.cells if cell.cell_type == "code" and marker in cell.source
            for o in cell.get("outputs", [])]


def _watts(text: str) -> float:
    number, prefix = re.fullmatch(r"(-?[\d.]+) ?([GMkmµ]?)W", text.strip()).groups()
    return float(number) * _PREFIX[prefix]


def load_notes_agree(text: str) -> None:
    """Every "other processes used N% ..., over/at most T%" agrees with its own N, with one T."""
    found = LOAD.findall(text)
    assert len({t for _, _, t in found}) <= 1, found  # one threshold
    for shown, side, threshold in found:
        assert (int(shown) > int(threshold)) == (side == "over"), (shown, side, threshold)


def _one_view(notebook, text: str) -> None:
    """The session's view, named by the first note, is the view of every %%energy report."""
    named = re.search(r"\(view: (machine|process)\)", text)
    assert named, "the first cell names the session's view"
    first_lines = [_text(o).split("\n", 1)[0] for cell in notebook.cells if cell.source.startswith("%%energy")
                   and "--attribute" not in cell.source.split("\n", 1)[0] for o in cell.get("outputs", [])
                   if o.get("output_type") == "display_data" and "⚡" in _text(o)]
    expected = "whole machine (" if named.group(1) == "machine" else "this kernel's share ("
    assert first_lines and all(expected in line for line in first_lines), first_lines


# -- lesson 07 ------------------------------------------------------------------------------------
def _table_rows(output_html: str) -> list[dict]:
    header = re.search(r"<thead>(.*?)</thead>", output_html, re.S)
    head = [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", header.group(1) if header else "")]
    rows = []
    for body in re.findall(r"<tr>\s*(.*?)</tr>", output_html, re.S):
        cells = [html.unescape(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        if cells:
            rows.append(dict(zip(head[-len(cells):], cells)))
    return rows


def _figure(cell: str) -> tuple[float, float | None, float | None]:
    """'414 (398 to 431)' → (414, 398, 431); '-3.5% (-8.0% to 1.0%)' → percent as fractions."""
    scale = 0.01 if "%" in cell else 1.0
    numbers = [float(x) * scale for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]\d+)?", cell)]
    return numbers[0], (numbers[1] if len(numbers) > 1 else None), (numbers[2] if len(numbers) > 2 else None)


def lesson_07(notebook) -> None:
    text = all_text(notebook)
    assert "verdict: " in text and "QUICK MODE" in text
    assert any(word in text for word in ("reproduced", "can't tell", "no candidate kept the accuracy"))
    assert "torch computes on " in text and "Oversubscription" in text  # threads set and stated
    _one_view(notebook, text)
    (table,) = [o for o in cell_outputs(notebook, "claim.shown(") if "text/html" in o.get("data", {})]
    rows = _table_rows(table["data"]["text/html"])
    assert rows, "the candidate table"
    cuts = {}
    for row in rows:
        ours, base, cut = _figure(row["µJ/inference"]), _figure(row["baseline µJ"]), _figure(row["cut"])
        # Three significant figures on each energy: the ratio is good to about 1 %.
        implied = 1 - ours[0] / base[0]
        assert abs(implied - cut[0]) <= 0.011 * ours[0] / base[0] + 0.0006, (row, implied)
        for value, low, high in (ours, base, cut):
            if low is not None:
                assert low - 1e-9 <= value <= high + 1e-9, row
        cuts[row["candidate"]] = cut
    for batch, said, way in re.findall(r"batching alone \(dense fp32, batch (\d+)\): " + PERCENT + r" (less|more)",
                                       text):
        cut = cuts[f"0% pruned · fp32 · batch {batch}"][0]
        assert abs(float(said) / 100 * (1 if way == "less" else -1) - cut) < 0.0006, (batch, said, way, cut)
    confirmed = re.search(r"confirmed in \d+ fresh pairs: .*?\(95% interval " + PERCENT + " to " + PERCENT, text)
    verdict = re.search(r"verdict: (30% reproduced|not reproduced|can't tell)", text)
    if confirmed and verdict:
        low, high = float(confirmed.group(1)), float(confirmed.group(2))
        expected = "30% reproduced" if low >= 30 else "not reproduced" if high < 30 else "can't tell"
        assert verdict.group(1) == expected, (low, high, verdict.group(0))


# -- lesson 06 ------------------------------------------------------------------------------------
def lesson_06(notebook) -> None:
    reports = [o for cell in notebook.cells if cell.source.startswith("%%energy --dask")
               for o in cell.get("outputs", []) if "⚡" in _text(o)]
    assert len(reports) == 3, "one report per cluster size"
    for output in reports:
        plain = output["data"]["text/plain"]
        assert "<img" in output["data"]["text/html"], plain  # quick mode still shows a figure
        avg, peak = re.search(r"avg ([^·]+W) · peak ([^·]+W)", plain.split("\n")[1]).groups()
        assert _watts(peak) >= _watts(avg), plain  # the peak of the summed hosts, never below the average
        for host_peak in re.findall(r"\n   - [^\n]*· peak ([^·]+W)", plain):
            assert _watts(host_peak) <= _watts(peak) * 1.001, plain  # the sum at once is at least each host


# -- lesson 01 ------------------------------------------------------------------------------------
def lesson_01(notebook) -> None:
    text = all_text(notebook)
    assert "this kernel's share (asked for with --attribute process" in text
    assert "+attributed-cpu-time" in text
    machine = re.search(r"the machine's energy: ([\d.e+]+) J for the loop alone .*?: ×([\d.]+)", text)
    assert machine, "lesson 01 compares the machine's energy alone and beside the neighbour"
    ratio = float(machine.group(2))
    said = re.search(r"so the machine's energy (grew|did not grow|barely changed)", text).group(1)
    assert said == ("grew" if ratio > 1.1 else "did not grow" if ratio < 0.9 else "barely changed"), (ratio, said)
    if said != "grew":  # the text says why
        assert re.search(r"so the machine's energy (did not grow|barely changed) beside the neighbour: \S", text)
    share = re.search(r"this kernel's share: [\d.e+]+ J beside the neighbour, [\d.e+]+ J for the loop alone "
                      r"\(×([\d.]+)\): (about the same|not the same)", text)
    assert share, "lesson 01 compares this kernel's shares"
    assert (share.group(2) == "about the same") == (0.65 <= float(share.group(1)) <= 1.35), share.group(0)
    headline = [o for o in cell_outputs(notebook, "loop-beside-a-neighbour") if "⚡" in _text(o)]
    assert share and headline, "the share is printed beside the headline"
    first = headline[0]["data"]["text/plain"].split("\n")
    assert "this kernel's share" in first[0] and "(machine)" in first[1], first[:2]  # which figure is which
