"""Lower precision: accuracy, latency and energy per inference for fp32 and cheaper number formats.

- CPU: fp32 against **dynamic int8** (``torch.ao.quantization.quantize_dynamic``: Linear weights
  stored as int8, activations quantised on the fly) and bf16 autocast.
- GPU: fp32 against fp16 and bf16 **autocast** (tensor cores do the matrix products in 16 bits).

Each precision is run on the same inputs; besides accuracy the table reports *agreement*, the
share of test images whose predicted class is the same as fp32's, which is what "the quantised
model behaves like the original" means in practice.
"""
from __future__ import annotations

import contextlib
import copy
import io
import warnings

from ..errors import InvalidInput
from .runs import Setting, frame, measure_settings
from .workloads import PRECISIONS, accuracy, inference_pool, predict, torch_module

PRECISIONS_BY_DEVICE = {
    "cpu": ("fp32", "int8-dynamic", "bf16-autocast"),
    "cuda": ("fp32", "fp16-autocast", "bf16-autocast"),
}


def default_precisions(device: str) -> tuple[str, ...]:
    """The precisions worth comparing on ``device``; int8 only where this torch build can run it."""
    chosen = PRECISIONS_BY_DEVICE["cuda" if device == "cuda" else "cpu"]
    if "int8-dynamic" in chosen and int8_unavailable():
        return tuple(p for p in chosen if p != "int8-dynamic")
    return chosen


def model_bytes(model) -> int:
    """Size of the model's saved state_dict: what it costs to store and to move."""
    torch = torch_module()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def int8_unavailable() -> str | None:
    """Why dynamic int8 cannot run in this torch build (one line), or None when it can."""
    torch = torch_module()
    try:
        from torch.ao.quantization import quantize_dynamic  # noqa: F401
    except ImportError:
        return f"torch {torch.__version__} has no torch.ao.quantization.quantize_dynamic (moved to torchao)"
    engines = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    if not engines:
        return f"torch {torch.__version__} was built without a quantized engine (fbgemm/x86/qnnpack)"
    return None


def quantize_int8(model):
    """A dynamic-int8 copy of ``model`` on the CPU (Linear layers only; the original is untouched)."""
    reason = int8_unavailable()
    if reason:
        raise InvalidInput(f"int8 quantisation unavailable: {reason}")
    torch = torch_module()
    from torch.ao.quantization import quantize_dynamic

    cpu_copy = copy.deepcopy(model).to("cpu").eval()
    # torch 2.10+ marks torch.ao.quantization deprecated in favour of torchao; it still works and
    # is what ships with torch, so the lesson uses it without a page of warnings per call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(cpu_copy, {torch.nn.Linear}, dtype=torch.qint8)


def agreement(reference, candidate, x, device: str | None = None, precision: str | None = None) -> float:
    """Share of rows of ``x`` where ``candidate`` (run on ``device``) predicts what fp32 ``reference`` does."""
    expected = predict(reference, x)
    got = predict(candidate, x.to(device or x.device), precision=precision)
    return float((got.to(expected.device) == expected).float().mean())


def variant(model, precision: str, device: str):
    """(model to run, device it runs on) for one precision."""
    if precision not in PRECISIONS:
        raise InvalidInput(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "int8-dynamic":
        return quantize_int8(model), "cpu"
    if precision.startswith("fp16") and device != "cuda":
        raise InvalidInput("fp16 autocast is for GPUs here: on the CPU compare int8-dynamic or bf16-autocast")
    return model, device


@contextlib.contextmanager
def _quiet_quantized():
    # Quantized ops warn about deprecated tensor types on every call; the lesson says so once.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _precision_setting(model, data, precision: str, batch_size: int) -> Setting:
    runnable, device = variant(model, precision, data.device)
    pool = inference_pool(data, max(4096, batch_size)).to(device)
    with _quiet_quantized():
        extra = {"accuracy": accuracy(runnable, data.x_test.to(device), data.y_test.to(device), precision=precision),
                 "agreement": agreement(model, runnable, data.x_test, device, precision),
                 "model_kb": model_bytes(runnable) / 1024}
    return Setting(precision, {"precision": precision, "device": device}, runnable, pool, batch_size,
                   precision=precision, context=_quiet_quantized, extra=extra)


def precision_sweep(model, data, precisions=None, batch_size: int = 256, target_s: float | None = None,
                    rounds: int | None = None, show: bool | None = None, **measure_options):
    """One measured row per precision: accuracy, agreement with fp32, model size, latency, energy."""
    precisions = tuple(precisions or default_precisions(data.device))
    settings = [_precision_setting(model, data, p, batch_size) for p in precisions]
    rows = measure_settings("Precision: inference energy", settings, target_s, rounds, show, **measure_options)
    return frame(rows, ["precision", "device", "accuracy", "agreement", "model_kb", "energy_j", "duration_s",
                        "mean_w", "uj_per_sample", "latency_ms", "spread", "kind"])


def summary(table) -> list[str]:
    """Sentences from a precision_sweep table: each precision against fp32."""
    from .runs import energy_change, ratio

    fp32 = table[table["precision"] == "fp32"]
    base = fp32.iloc[0] if len(fp32) else table.iloc[0]  # without an fp32 row, compare with the first
    lines = [f"{base['precision']}: {base['accuracy']:.1%} accuracy, {base['uj_per_sample']:.3g} µJ per inference, "
             f"{base['latency_ms']:.3f} ms per batch of {int(base['batch_size'])}"]
    for _, row in table[table["precision"] != base["precision"]].iterrows():
        lines.append(
            f"{row['precision']}: energy per inference {energy_change(row, base, base['precision'])}, "
            f"latency {ratio(row['latency_ms'], base['latency_ms'])}, model size "
            f"{ratio(row['model_kb'], base['model_kb'])}; same answer as fp32 on "
            f"{row['agreement']:.1%} of test images (accuracy {row['accuracy']:.1%})")
    return lines
