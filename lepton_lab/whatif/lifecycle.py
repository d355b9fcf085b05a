"""Lifetime energy of a model: training once, then N inferences; and when an optimisation pays.

::

    lifetime(N)  = training + N × per-inference energy
    optimised(N) = training + optimisation + N × optimised per-inference energy

``optimisation`` is the energy spent producing the cheaper model (quantization calibration,
distillation, fine-tuning, the measurements that chose it). The optimisation pays back its
energy after the break-even number of inferences::

    N* = optimisation / (per-inference − optimised per-inference)

and never if the optimised model does not use less per inference.

Assumptions: energies are totals at the wall or the sensor for one unit of work, unchanged over
the model's life (no hardware change, same batch size); training is counted once for both
models because the optimised one starts from the trained model. For scale, Patterson et al.
(2021, "Carbon Emissions and Large Neural Network Training") estimate 1,287 MWh to train GPT-3;
the apps' defaults are illustrative and smaller.
"""
from __future__ import annotations

from dataclasses import dataclass

from .checks import number

#: Most inferences the models accept (10^15): far beyond any deployment, keeps floats exact enough.
MAX_INFERENCES = 1e15

#: What the lifecycle app states on its page (``**...**`` marks emphasis).
ASSUMPTIONS = (
    "Lifetime energy = training + inferences × energy per inference. The optimised model (quantized, "
    "distilled, pruned) starts from the trained one and adds the energy spent producing it.",
    "Break-even = optimisation energy / (baseline − optimised energy per inference); never if the optimised "
    "model does not use less per inference.",
    "Energy per inference and the daily rate stay constant over the lifetime (same hardware, same batch "
    "size). Measure a batch with %%energy and give the batch size.",
    "The default numbers are **illustrative**. For scale: Patterson et al. (2021) estimate 1,287 MWh to "
    "train GPT-3.",
    "Emissions use the region's yearly average intensity (Ember via Our World in Data) and PUE 1.0.",
)


@dataclass(frozen=True)
class LifecycleResult:
    """Both models' lifetime energy after ``inferences`` inferences, and the break-even point."""

    training_j: float
    optimisation_j: float
    per_inference_j: float
    optimised_per_inference_j: float
    inferences: float
    baseline_j: float
    optimised_j: float
    break_even: float | None
    """Inferences after which the optimised model has used less energy in total; None: never."""

    @property
    def saving_j(self) -> float:
        """Energy saved by the optimisation after ``inferences`` (negative: it has not paid back yet)."""
        return self.baseline_j - self.optimised_j

    @property
    def training_share(self) -> float:
        """Share of the baseline lifetime energy spent on training (1.0 with no inferences)."""
        return self.training_j / self.baseline_j if self.baseline_j > 0 else 0.0

    @property
    def paid_back(self) -> bool:
        return self.break_even is not None and self.inferences >= self.break_even


def break_even_inferences(
    optimisation_j: float, per_inference_j: float, optimised_per_inference_j: float
) -> float | None:
    """Inferences needed for the optimisation to pay back its energy; None if it never does.

    With no optimisation cost and no per-inference change there is nothing to pay back: 0.
    """
    cost = number("optimisation energy", optimisation_j, 0.0, unit="J")
    before = number("energy per inference", per_inference_j, 0.0, unit="J")
    after = number("optimised energy per inference", optimised_per_inference_j, 0.0, unit="J")
    if cost == 0.0 and after <= before:
        return 0.0
    if after >= before:
        return None
    return cost / (before - after)


def lifetime(
    training_j: float,
    per_inference_j: float,
    inferences: float,
    optimisation_j: float = 0.0,
    optimised_per_inference_j: float | None = None,
) -> LifecycleResult:
    """Lifetime energy of the baseline and the optimised model after ``inferences`` inferences."""
    training = number("training energy", training_j, 0.0, unit="J")
    before = number("energy per inference", per_inference_j, 0.0, unit="J")
    count = number("number of inferences", inferences, 0.0, MAX_INFERENCES)
    after = before if optimised_per_inference_j is None else optimised_per_inference_j
    cost = number("optimisation energy", optimisation_j, 0.0, unit="J")
    after = number("optimised energy per inference", after, 0.0, unit="J")
    return LifecycleResult(
        training_j=training, optimisation_j=cost, per_inference_j=before,
        optimised_per_inference_j=after, inferences=count,
        baseline_j=training + count * before,
        optimised_j=training + cost + count * after,
        break_even=break_even_inferences(cost, before, after),
    )


def curve(result: LifecycleResult, points: int = 50) -> tuple[list[float], list[float], list[float]]:
    """(inferences, baseline J, optimised J) from 0 to ``result.inferences`` for a chart."""
    points = int(number("points", points, 2, 10_000))
    xs = [result.inferences * i / (points - 1) for i in range(points)]
    base = [result.training_j + x * result.per_inference_j for x in xs]
    opt = [result.training_j + result.optimisation_j + x * result.optimised_per_inference_j for x in xs]
    return xs, base, opt


def per_item_j(energy_j: float, items: float) -> float:
    """Energy of one inference from a measured batch: ``energy_j`` / ``items``."""
    energy = number("measured energy", energy_j, 0.0, unit="J")
    count = number("items in the measured run", items, 1.0, MAX_INFERENCES)
    return energy / count
