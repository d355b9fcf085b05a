"""The 30 % question (lesson 07): pruning × precision × batch size against a naive deployment.

The baseline is the dense fp32 model served one image at a time. Every candidate (structured
pruning amount, precision, batch size) is measured in pairs with the baseline, A B A B ..., so a
drift of the machine hits both alike; its cut is ``1 - candidate/baseline`` in energy per
inference, with a bootstrap interval (:mod:`lepton_lab.stats`). Candidates whose test accuracy
falls more than ``tolerance`` below the baseline's are measured (for the Pareto view) but cannot
win. The winner of a search is the luckiest of many draws as well as the best, so its verdict
comes from fresh pairs measured after the search (a confirmation run), not from the search's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..stats import CutInterval, abab, cut_interval, geometric_mean, pareto_front, verdict
from .quantization import _quiet_quantized, default_precisions, variant
from .runs import Setting, in_one_view, measure_inference, open_sweep, target_seconds, warm_up
from .workloads import accuracy, fast_mode, inference_pool

TARGET_CUT = 0.30
ACCURACY_TOLERANCE = 0.01
#: What each mode searches: quick mode (CI) fewer candidates and repeats, and says so.
PLANS: dict[str, dict[str, Any]] = {
    "fast": {"sparsities": (0.0, 0.5), "batch_sizes": (1, 64), "repeats": 3, "confirm": 4, "target_s": 0.12,
             "finetune_epochs": 1},
    "full": {"sparsities": (0.0, 0.3, 0.5, 0.7), "batch_sizes": (1, 16, 256), "repeats": 5, "confirm": 8,
             "target_s": 0.4, "finetune_epochs": 3},
}


def plan(fast: bool | None = None) -> dict[str, Any]:
    return dict(PLANS["fast" if (fast_mode() if fast is None else fast) else "full"])


@dataclass
class ClaimResult:
    table: Any
    """One row per candidate: its setting, accuracy, energy per inference, cut and interval."""
    baseline_accuracy: float
    best: dict | None
    """The eligible candidate with the largest cut in the search (None if none is eligible)."""
    confirmed: CutInterval | None
    """The best candidate against the baseline again, in fresh pairs."""
    verdict: tuple[str, str] | None
    kind: str
    view: str
    settings: dict[str, Any] = field(default_factory=dict)


def _candidates(model, data, sparsities, precisions, batch_sizes, finetune_epochs: int, pool):
    from .pruning import pruned_variant

    found = []
    for sparsity in sparsities:
        pruned, _ = pruned_variant(model, "structured", sparsity, data, finetune_epochs if sparsity else 0)
        for precision in precisions:
            runnable, device = variant(pruned, precision, data.device)
            with _quiet_quantized():
                acc = accuracy(runnable, data.x_test.to(device), data.y_test.to(device), precision=precision)
            for batch in batch_sizes:
                label = f"{sparsity:.0%} pruned · {precision} · batch {batch}"
                found.append((Setting(label, {"sparsity": sparsity, "precision": precision, "batch_size": batch},
                                      runnable, pool.to(device), batch, precision=precision,
                                      context=_quiet_quantized), acc))
    return found


def search(model, data, sparsities=None, precisions=None, batch_sizes=None, repeats: int | None = None,
           confirm: int | None = None, target_s: float | None = None, tolerance: float = ACCURACY_TOLERANCE,
           target_cut: float = TARGET_CUT, finetune_epochs: int | None = None, show: bool | None = None,
           **measure_options) -> ClaimResult:
    """Search the grid, measuring every candidate in ABAB pairs with the baseline; then confirm the best."""
    chosen = plan()
    sparsities = tuple(sparsities if sparsities is not None else chosen["sparsities"])
    precisions = tuple(precisions or default_precisions(data.device))
    batch_sizes = tuple(batch_sizes or chosen["batch_sizes"])
    repeats = int(repeats or chosen["repeats"])
    confirm = int(confirm or chosen["confirm"])
    target_s = target_seconds(target_s if target_s is not None else chosen["target_s"])
    epochs = chosen["finetune_epochs"] if finetune_epochs is None else finetune_epochs

    pool = inference_pool(data, max(4096, max(batch_sizes)))
    found = _candidates(model, data, sparsities, precisions, batch_sizes, epochs, pool)
    (baseline, base_acc), others = found[0], found[1:]  # 0 % pruned, the first precision (fp32), batch 1
    if baseline.params != {"sparsity": 0.0, "precision": "fp32", "batch_size": 1}:
        baseline = Setting("baseline · fp32 · batch 1", {"sparsity": 0.0, "precision": "fp32", "batch_size": 1},
                           model, pool, 1)
        base_acc = accuracy(model, data.x_test, data.y_test)
    total = 2 * repeats * len(others) + 2 * confirm
    runs: list[list[dict]] = []
    with open_sweep(total, "The 30 % claim: candidates against the baseline", show, **measure_options) as sweep:
        for setting in [baseline] + [s for s, _ in others]:
            warm_up(setting, target_s)
        for setting, _ in others:
            runs.append(_pairs(sweep, baseline, setting, repeats, target_s))
        table = _table(others, in_one_view(runs), base_acc, tolerance)
        eligible = table[table["eligible"]]
        best_label = eligible.loc[eligible["cut"].idxmax(), "candidate"] if len(eligible) else None
        if best_label is not None:
            winner = next(s for s, _ in others if s.label == best_label)
            runs.append(_pairs(sweep, baseline, winner, confirm, target_s, "confirm"))
    # One view for every run, the confirmation's included: a busy spell during it must not
    # compare this kernel's share with a whole machine's.
    runs = in_one_view(runs)
    table = _table(others, runs[:len(others)], base_acc, tolerance)
    best = table[table["candidate"] == best_label].iloc[0].to_dict() if best_label is not None else None
    confirmed = cut_interval(*_split(runs[-1])) if best_label is not None else None
    flat = [r for group in runs for r in group]
    from ..sensors import kinds

    kind = kinds.combined(r["kind"] for r in flat)
    view = flat[0].get("view", "machine") if flat else "machine"
    return ClaimResult(table=table, baseline_accuracy=base_acc, best=best, confirmed=confirmed,
                       verdict=verdict(confirmed, target_cut) if confirmed else None, kind=kind, view=view,
                       settings={"sparsities": sparsities, "precisions": precisions, "batch_sizes": batch_sizes,
                                 "repeats": repeats, "confirm": confirm, "target_s": target_s,
                                 "tolerance": tolerance, "target_cut": target_cut})


def _table(others, runs: list[list[dict]], base_acc: float, tolerance: float):
    import pandas as pd

    table = pd.DataFrame([_row(setting, acc, pair_runs, base_acc, tolerance)
                          for (setting, acc), pair_runs in zip(others, runs)])
    table["pareto"] = pareto_front(list(table["uj_per_inference"]), list(table["accuracy"]))
    return table


def _pairs(sweep, baseline: Setting, candidate: Setting, repeats: int, target_s: float, stage: str = "pair"):
    """Measure ``repeats`` pairs, A B A B ...; one row per run, tagged A or B and its pair."""
    rows = []
    for i, who in enumerate(abab(repeats)):
        setting = baseline if who == "A" else candidate
        label = f"{stage} {i // 2 + 1}/{repeats} · {'baseline' if who == 'A' else candidate.label}"
        with setting.around():
            row = measure_inference(sweep, label, setting.params, setting.model, setting.inputs,
                                    setting.batch_size, target_s, setting.precision)
        rows.append({**row, "who": who, "pair": i // 2})
    return rows


def _split(rows: list[dict]) -> tuple[list[float], list[float]]:
    by_pair: dict[int, dict[str, float]] = {}
    for row in rows:
        by_pair.setdefault(row["pair"], {})[row["who"]] = row["uj_per_sample"]
    pairs = [p for _, p in sorted(by_pair.items()) if "A" in p and "B" in p]
    return [p["A"] for p in pairs], [p["B"] for p in pairs]


def _row(setting: Setting, acc: float, rows: list[dict], base_acc: float, tolerance: float) -> dict:
    """One candidate's row. Every figure is a geometric mean over the same pairs, the estimator of
    the cut, so that ``1 - uj_per_inference / baseline_uj`` is the cut to rounding; each has its
    interval beside it."""
    base, cand = _split(rows)
    interval = cut_interval(base, cand) if len(base) >= 2 else None
    ours, theirs = geometric_mean(cand), geometric_mean(base)
    return {"candidate": setting.label, **setting.params, "accuracy": acc,
            "eligible": acc >= base_acc - tolerance - 1e-9,
            "uj_per_inference": ours.value, "uj_low": ours.low, "uj_high": ours.high,
            "baseline_uj": theirs.value, "baseline_low": theirs.low, "baseline_high": theirs.high,
            "cut": interval.cut if interval else 1 - ours.value / theirs.value,
            "cut_low": interval.low if interval else float("nan"),
            "cut_high": interval.high if interval else float("nan"),
            "pairs": len(base), "kind": rows[0]["kind"], "view": rows[0].get("view", "machine")}


def shown(table):
    """The candidate table as the lesson prints it, best cut first: each figure with its 95 %
    interval beside it, in one column, so that no reader pairs a figure with another's interval."""
    import pandas as pd

    def span(row, value: str, low: str, high: str, fmt: str) -> str:
        if row[low] != row[low]:  # one pair: no interval
            return fmt.format(row[value])
        return f"{fmt.format(row[value])} ({fmt.format(row[low])} to {fmt.format(row[high])})"

    rows = [{"candidate": r["candidate"], "accuracy": f"{r['accuracy']:.1%}", "eligible": bool(r["eligible"]),
             "µJ/inference": span(r, "uj_per_inference", "uj_low", "uj_high", "{:.3g}"),
             "baseline µJ": span(r, "baseline_uj", "baseline_low", "baseline_high", "{:.3g}"),
             "cut": span(r, "cut", "cut_low", "cut_high", "{:.1%}"), "pairs": int(r["pairs"]),
             "pareto": bool(r["pareto"]), "kind": r["kind"]}
            for _, r in table.sort_values("cut", ascending=False).iterrows()]
    return pd.DataFrame(rows)


def check_row(row) -> str | None:
    """Why a row's printed numbers disagree with each other (None when they agree): the cut must be
    ``1 - uj_per_inference / baseline_uj`` and lie in its interval, each figure in its own."""
    implied = 1 - row["uj_per_inference"] / row["baseline_uj"]
    if abs(implied - row["cut"]) > 1e-6 * max(1.0, abs(implied)):
        return f"{row['candidate']}: cut {row['cut']:.1%} but 1 - candidate/baseline is {implied:.1%}"
    for value, low, high in (("cut", "cut_low", "cut_high"), ("uj_per_inference", "uj_low", "uj_high"),
                             ("baseline_uj", "baseline_low", "baseline_high")):
        if row[low] == row[low] and not row[low] - 1e-9 <= row[value] <= row[high] + 1e-9:
            return f"{row['candidate']}: {value} {row[value]:.4g} outside its interval {row[low]:.4g}-{row[high]:.4g}"
    return None


def describe(result: ClaimResult) -> list[str]:
    """The lesson's conclusion, computed from the result: the best combination, its interval, the
    verdict, and what kind of energies it stands on."""
    s = result.settings
    lines = [f"baseline: dense fp32 at batch 1, test accuracy {result.baseline_accuracy:.1%}; candidates must keep "
             f"≥ {result.baseline_accuracy - s['tolerance']:.1%}"]
    if result.best is None or result.confirmed is None or result.verdict is None:
        return lines + ["no candidate kept the accuracy: nothing to compare"]
    best = result.best
    lines.append(f"best in the search: {best['candidate']} (accuracy {best['accuracy']:.1%}), "
                 f"{best['cut']:.1%} less energy per inference over {best['pairs']} pairs")
    lines.append(f"confirmed in {result.confirmed.pairs} fresh pairs: {result.confirmed.describe()}")
    lines.append(f"verdict: {result.verdict[1]}")
    lines.extend(batching_lines(result))
    lines.append(energy_basis(result.kind, result.view))
    return lines


def batching_lines(result: ClaimResult) -> list[str]:
    """What batching alone did here (the dense fp32 model at each larger batch against batch 1),
    worded from the table's numbers: the lesson's text about batching points at these lines."""
    table = result.table
    alone = table[(table["sparsity"] == 0.0) & (table["precision"] == "fp32") & (table["batch_size"] > 1)]
    return [f"batching alone (dense fp32, batch {int(row['batch_size'])}): {change_words(row)} per inference "
            f"than batch 1 over {int(row['pairs'])} pairs" for _, row in alone.iterrows()]


def change_words(row) -> str:
    """'62.0% less energy (95% interval 55.1% to 67.3%)' or '12.5% more energy (...)', from a row's cut."""
    def words(cut: float) -> str:
        return f"{abs(cut):.1%} {'less' if cut >= 0 else 'more'}"

    if row["cut_low"] != row["cut_low"]:  # one pair: no interval
        return f"{words(row['cut'])} energy"
    return f"{words(row['cut'])} energy (95% interval {words(row['cut_low'])} to {words(row['cut_high'])})"


def energy_basis(kind: str, view: str) -> str:
    """What the energies behind a verdict are, and what that means for it."""
    from ..sensors import kinds

    if view == "process":
        return ("these energies are this kernel's attributed share of a busy machine (CPU time), so the verdict is "
                "about this kernel's work, with the attribution's uncertainty on top")
    if kinds.is_measurement(kind):
        return "these energies are MEASURED by the machine's sensors: the verdict holds for this machine"
    if kind == kinds.REPLAYED:
        return "these energies are REPLAYED from a recorded trace: the verdict says nothing about this machine"
    return ("these energies are ESTIMATED (CPU time × utilisation × TDP, no sensor here): the verdict is about the CPU "
            "time the techniques save on this machine, not a metered saving; repeat it where RAPL or NVML can be read")
