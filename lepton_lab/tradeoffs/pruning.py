"""Magnitude pruning (``torch.nn.utils.prune``) at several sparsities: accuracy and inference energy.

Two ways to prune, because they teach opposite lessons:

- **unstructured**: the smallest-magnitude weights anywhere in the network are set to zero
  (``prune.global_unstructured`` with L1). The tensors keep their shape, so dense kernels do
  exactly the same arithmetic: the energy per inference does not fall, whatever the sparsity.
- **structured**: whole hidden neurons with the smallest L1 norm are zeroed (``prune.ln_structured``)
  and then removed, giving a genuinely smaller dense network that does less arithmetic.

After pruning, an optional short fine-tune lets the remaining weights recover accuracy (the
pruning masks stay in force while it trains, so zeros stay zero).
"""
from __future__ import annotations

import copy

from ..errors import InvalidInput
from .runs import Setting, frame, measure_settings
from .workloads import accuracy, inference_pool, torch_module, train

METHODS = ("unstructured", "structured")
DEFAULT_SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95)


def prunable(model) -> list:
    """(module, 'weight') for every Linear and Conv2d: what magnitude pruning acts on."""
    nn = torch_module().nn
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def zero_fraction(model) -> float:
    """Share of the prunable weights that are exactly zero."""
    weights = [getattr(m, name).detach() for m, name in prunable(model)]
    total = sum(w.numel() for w in weights)
    return sum(int((w == 0).sum()) for w in weights) / total if total else 0.0


def prunable_weight_count(model) -> int:
    return sum(getattr(m, name).numel() for m, name in prunable(model))


def count_parameters(model, nonzero: bool = False) -> int:
    """All parameters (weights and biases), or only the non-zero ones."""
    return sum(int((p != 0).sum()) if nonzero else p.numel() for p in model.parameters())


def _prune_module():
    torch_module()  # the friendly "install the torch extra" error first
    import torch.nn.utils.prune as prune  # a submodule that `import torch` does not load

    return prune


def _check_amount(amount: float) -> float:
    amount = float(amount)
    if not 0.0 <= amount < 1.0:
        raise InvalidInput(f"sparsity {amount!r} must be in [0, 1): the share of weights to remove")
    return amount


def magnitude_prune(model, amount: float, data=None, finetune_epochs: int = 0):
    """Zero the ``amount`` smallest-|w| weights network-wide (in place); fine-tune; make it permanent."""
    prune = _prune_module()
    amount = _check_amount(amount)
    targets = prunable(model)
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    if data is not None and finetune_epochs:
        train(model, data, epochs=finetune_epochs, lr=5e-4)
    for module, name in targets:  # fold weight_orig × mask into a plain weight again
        prune.remove(module, name)
    return model


def structured_prune(model, amount: float, data=None, finetune_epochs: int = 0):
    """Remove the ``amount`` share of each hidden layer's neurons (smallest L1 norm): a smaller MLP."""
    prune = _prune_module()
    amount = _check_amount(amount)
    hidden = _mlp_linears(model)[:-1]  # the output layer keeps its 10 classes
    for layer in hidden:
        prune.ln_structured(layer, "weight", amount=amount, n=1, dim=0)
        prune.remove(layer, "weight")
    slim = compact_mlp(model)
    if data is not None and finetune_epochs:
        train(slim, data, epochs=finetune_epochs, lr=5e-4)
    return slim


def _mlp_linears(model) -> list:
    nn = torch_module().nn
    layers = list(model) if isinstance(model, nn.Sequential) else []
    if not layers or not all(isinstance(m, (nn.Linear, nn.ReLU)) for m in layers):
        raise InvalidInput("structured pruning here rebuilds MLPs (Linear/ReLU Sequential): use method='unstructured'")
    return [m for m in layers if isinstance(m, nn.Linear)]


def compact_mlp(model):
    """A new MLP without the hidden neurons whose incoming weights are all zero (and their columns downstream)."""
    torch = torch_module()
    nn = torch.nn
    linears = _mlp_linears(model)
    kept_inputs, layers = None, []
    for module in model:
        if not isinstance(module, nn.Linear):
            layers.append(copy.deepcopy(module))
            continue
        weight, bias = module.weight.detach(), module.bias.detach()
        if kept_inputs is not None:
            weight = weight[:, kept_inputs]
        if module is not linears[-1]:
            rows = (module.weight.detach().abs().sum(dim=1) > 0).nonzero().flatten()
            if len(rows) == 0:  # keep one neuron so the network stays connected
                rows = module.weight.detach().abs().sum(dim=1).argmax().reshape(1)
            weight, bias, kept_inputs = weight[rows], bias[rows], rows
        layer = nn.Linear(weight.shape[1], weight.shape[0]).to(weight.device)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        layers.append(layer)
    return nn.Sequential(*layers).eval()


def pruned_variant(model, method: str, amount: float, data=None, finetune_epochs: int = 0):
    """(pruned copy, share of the original prunable weights now zero or gone); ``model`` is untouched."""
    work = copy.deepcopy(model)
    if method == "unstructured":
        pruned = magnitude_prune(work, amount, data, finetune_epochs)
        return pruned.eval(), zero_fraction(pruned)
    if method == "structured":
        slim = structured_prune(work, amount, data, finetune_epochs)
        kept = prunable_weight_count(slim) * (1.0 - zero_fraction(slim))
        return slim.eval(), 1.0 - kept / prunable_weight_count(model)
    raise InvalidInput(f"unknown pruning method {method!r}: use one of {', '.join(METHODS)}")


def _pruned_setting(model, data, method: str, amount: float, finetune_epochs: int, pool, batch_size: int) -> Setting:
    # 0 % is the untouched model, the reference every other row is compared with: no fine-tune.
    pruned, removed = pruned_variant(model, method, amount, data, finetune_epochs if amount else 0)
    extra = {"weights_removed": removed, "parameters": count_parameters(pruned, nonzero=True),
             "accuracy": accuracy(pruned, data.x_test, data.y_test)}
    return Setting(f"{method} {amount:.0%}", {"method": method, "sparsity": amount}, pruned, pool, batch_size,
                   extra=extra)


def prune_sweep(model, data, sparsities=DEFAULT_SPARSITIES, methods=METHODS, finetune_epochs: int = 2,
                batch_size: int = 256, target_s: float | None = None, rounds: int | None = None,
                show: bool | None = None, **measure_options):
    """One measured row per (method, sparsity): accuracy, weights removed, parameters, inference energy."""
    pool = inference_pool(data, max(4096, batch_size))
    settings = [_pruned_setting(model, data, m, s, finetune_epochs, pool, batch_size)
                for m in methods for s in sparsities]
    rows = measure_settings("Pruning: inference energy", settings, target_s, rounds, show, **measure_options)
    return frame(rows, ["method", "sparsity", "weights_removed", "parameters", "accuracy", "energy_j",
                        "duration_s", "mean_w", "uj_per_sample", "latency_ms", "spread", "kind"])


def summary(table, tolerance: float = 0.01) -> list[str]:
    """Sentences from a prune_sweep table: per method, the most pruning that kept accuracy, and its
    energy against the unpruned model, called a difference only beyond the run-to-run spread."""
    from .runs import energy_change

    dense = table[table["sparsity"] == table["sparsity"].min()]
    base = dense.iloc[0]  # the 0 % row when the sweep has one
    name = "dense model" if base["sparsity"] == 0 else f"least pruned model ({base['sparsity']:.0%})"
    lines = [f"{name}: {base['accuracy']:.1%} accuracy, {base['uj_per_sample']:.3g} µJ per inference"]
    if len(dense) > 1:  # the same model measured once per method: what noise alone does here
        again = dense.iloc[1]
        lines.append(f"{name} measured again (as {again['method']} {again['sparsity']:.0%}): "
                     f"{again['uj_per_sample']:.3g} µJ, {energy_change(again, base, 'the first')}")
    for method, part in table.groupby("method", sort=False):
        kept = part[part["accuracy"] >= base["accuracy"] - tolerance]
        row = kept.loc[kept["sparsity"].idxmax()] if len(kept) else part.iloc[0]
        lines.append(
            f"{method}: up to {row['sparsity']:.0%} pruned ({row['weights_removed']:.0%} of weights gone) "
            f"kept accuracy within {tolerance * 100:.0f} point(s) ({row['accuracy']:.1%}); energy per inference "
            f"there: {energy_change(row, base, 'the ' + name)}")
    return lines
