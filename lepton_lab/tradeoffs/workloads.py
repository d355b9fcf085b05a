"""Small, download-free workloads for the trade-off lessons: an MLP or a CNN on scikit-learn's digits.

The digits data set (1,797 8×8 images) ships inside scikit-learn, so the lessons never fetch
anything. Models train to ~95 %+ accuracy in seconds on a laptop CPU, which leaves the time budget
for what the lessons are about: measuring inference under different settings.

The device is chosen automatically: CUDA when torch sees a GPU, else the CPU. On a GPU the default
model is wider so the GPU is busy computing rather than waiting on kernel launches, otherwise no
setting (precision, power cap) could change anything. torch is imported inside functions only.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput, require

FAST_ENV = "LEPTON_FAST"
#: Hidden width of the MLP per device kind (see module docstring for why the GPU's is wider).
DEFAULT_HIDDEN = {"cpu": 256, "cuda": 2048}
PRECISIONS = ("fp32", "fp16-autocast", "bf16-autocast", "int8-dynamic")


def fast_mode() -> bool:
    """True when ``LEPTON_FAST`` is set to anything but empty/0: the lessons' quick mode for CI."""
    return os.environ.get(FAST_ENV, "").strip() not in ("", "0", "false", "no")


def torch_module():
    return require("torch", "torch", "the trade-off lessons")


def pick_device(device: str | None = None) -> str:
    """'cuda' when torch sees a GPU, else 'cpu'; an explicit choice is checked, not trusted."""
    torch = torch_module()
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise InvalidInput(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInput("device='cuda' but torch sees no CUDA GPU: use device='cpu' or None")
    return device


def describe_device(device: str) -> str:
    """One line naming where the workload runs: 'GPU: NVIDIA H100 ...' or 'CPU: x86_64, 2 threads'."""
    torch = torch_module()
    if device == "cuda":
        index = torch.cuda.current_device()
        return f"GPU: {torch.cuda.get_device_name(index)} (cuda:{index}, torch {torch.__version__})"
    name = _cpu_name() or platform.machine() or "unknown CPU"
    return f"CPU: {name}, {torch.get_num_threads()} torch thread(s) (torch {torch.__version__})"


#: One line on why the thread count matters, for every lesson that sets it.
OVERSUBSCRIPTION = ("Oversubscription (more compute threads than free cores) makes every parallel step wait for a "
                    "thread the OS has parked behind another process: batched inference can run many times slower "
                    "than on one thread.")


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def sensible_threads() -> int:
    """Compute threads for this machine: one CPU left for the kernel's sampler, the browser and
    neighbours, so that torch's threads never outnumber the free cores (1 on a 2-CPU laptop)."""
    physical = None
    with contextlib.suppress(Exception):
        import psutil

        physical = psutil.cpu_count(logical=False)
    return max(1, min(usable_cpus() - 1, physical or usable_cpus()))


def set_threads(count: int | None = None) -> str:
    """Set torch's compute threads for this kernel (:func:`sensible_threads` unless ``count``), and
    say so in one line, with why."""
    torch = torch_module()
    count = sensible_threads() if count is None else max(1, int(count))
    torch.set_num_threads(count)
    return (f"torch computes on {count} thread(s) of this machine's {usable_cpus()} CPU(s), leaving one free. "
            + OVERSUBSCRIPTION)


def _cpu_name() -> str | None:
    try:
        from ..cpu_tdp import cpu_model_name

        return cpu_model_name()
    except Exception:  # the name is decoration: never fail a lesson over it
        return None


@dataclass
class Digits:
    """Train/test split of the digits, as float tensors in [0, 1] on ``device``."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    device: str
    image: bool

    @property
    def n_features(self) -> int:
        return 64


def load_digits_data(device: str = "cpu", image: bool = False, test_fraction: float = 0.25,
                     seed: int = 0) -> Digits:
    """scikit-learn's bundled digits, split (stratified) and scaled; ``image`` gives N×1×8×8."""
    torch = torch_module()
    datasets = require("sklearn.datasets", "torch", "the digits data set")
    selection = require("sklearn.model_selection", "torch", "the digits data set")
    bunch = datasets.load_digits()
    x = torch.tensor(bunch.data / 16.0, dtype=torch.float32)  # pixel values are 0..16
    y = torch.tensor(bunch.target, dtype=torch.long)
    x_tr, x_te, y_tr, y_te = selection.train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y.numpy())
    if image:
        x_tr, x_te = x_tr.reshape(-1, 1, 8, 8), x_te.reshape(-1, 1, 8, 8)
    return Digits(x_tr.to(device), y_tr.to(device), x_te.to(device), y_te.to(device), device, image)


def make_model(kind: str = "mlp", hidden: int = 256, seed: int = 0):
    """An MLP (64 → hidden → hidden → 10) or a small CNN for 1×8×8 images, seeded."""
    torch = torch_module()
    nn = torch.nn
    torch.manual_seed(seed)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                             nn.Linear(hidden, 10))
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))
    raise InvalidInput(f"unknown model kind {kind!r}: use 'mlp' or 'cnn'")


def train(model, data: Digits, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Adam on cross-entropy for a few epochs; returns the mean loss of each epoch."""
    torch = torch_module()
    model.to(data.device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(int(epochs)):
        order = torch.randperm(len(data.x_train), generator=generator).to(data.device)
        total = torch.zeros((), device=data.device)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(data.x_train[index]), data.y_train[index])
            loss.backward()
            optimiser.step()
            total += loss.detach() * len(index)  # stay on the device: one sync per epoch, not per step
        losses.append(float(total) / len(order))
    model.eval()
    return losses


def trained_model(kind: str = "mlp", device: str | None = None, epochs: int | None = None,
                  hidden: int | None = None, seed: int = 0):
    """(model, data) ready for the sweeps: the device picked, the model trained and in eval mode."""
    device = pick_device(device)
    data = load_digits_data(device, image=(kind == "cnn"), seed=seed)
    model = make_model(kind, hidden or DEFAULT_HIDDEN[device], seed=seed)
    train(model, data, epochs=epochs if epochs is not None else (8 if fast_mode() else 20), seed=seed)
    return model, data


def precision_context(device: str, precision: str | None):
    """autocast for 'fp16-autocast'/'bf16-autocast', nothing for fp32 (int8 is a model, not a context)."""
    torch = torch_module()
    if precision in (None, "fp32", "int8-dynamic"):
        return contextlib.nullcontext()
    if precision not in PRECISIONS:
        raise InvalidInput(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    dtype = torch.float16 if precision.startswith("fp16") else torch.bfloat16
    return torch.autocast(device_type=device, dtype=dtype)


def predict(model, x, batch_size: int = 512, precision: str | None = None):
    """Class predictions (argmax) for every row of ``x``, on ``x``'s device."""
    torch = torch_module()
    device = x.device.type
    outputs = []
    with torch.inference_mode(), precision_context(device, precision):
        for start in range(0, len(x), batch_size):
            outputs.append(model(x[start:start + batch_size]).argmax(dim=1))
    return torch.cat(outputs)


def accuracy(model, x, y, batch_size: int = 512, precision: str | None = None) -> float:
    """Fraction of ``x`` classified as ``y``."""
    return float((predict(model, x, batch_size, precision) == y).float().mean())


def inference_pool(data: Digits, size: int = 4096):
    """The test images tiled to ``size`` rows, so any batch size can be sliced without copies."""
    repeats = math.ceil(size / len(data.x_test))
    shape = (repeats,) + (1,) * (data.x_test.dim() - 1)
    return data.x_test.repeat(*shape)[:size].contiguous()


def synchronize(device: str) -> None:
    # CUDA work is asynchronous: without this a timer (or the energy window) closes before the GPU is done.
    if device == "cuda":
        torch_module().cuda.synchronize()


def run_inference(model, inputs, batch_size: int, n_batches: int, precision: str | None = None) -> int:
    """Run ``n_batches`` forward passes of ``batch_size`` rows (cycling through ``inputs``); samples done."""
    torch = torch_module()
    if batch_size < 1 or batch_size > len(inputs):
        raise InvalidInput(f"batch size {batch_size} must be between 1 and the pool size {len(inputs)}")
    device = inputs.device.type
    starts = list(range(0, len(inputs) - batch_size + 1, batch_size))
    with torch.inference_mode(), precision_context(device, precision):
        for i in range(int(n_batches)):
            start = starts[i % len(starts)]
            model(inputs[start:start + batch_size])
    synchronize(device)
    return int(n_batches) * batch_size


def batches_for(model, inputs, batch_size: int, target_s: float, precision: str | None = None,
                max_batches: int = 10_000_000) -> int:
    """How many batches take about ``target_s`` seconds (after a warm-up): a sensor needs time to see work.

    Energy counters update every 10-100 ms, so a run must last well beyond that to be measured.
    """
    run_inference(model, inputs, batch_size, 3, precision)  # warm-up: first calls allocate and pick kernels
    n, elapsed = 1, 0.0
    while n < max_batches:
        started = time.perf_counter()
        run_inference(model, inputs, batch_size, n, precision)
        elapsed = time.perf_counter() - started
        if elapsed >= target_s / 10:
            break
        n *= 4
    return int(min(max_batches, max(1, math.ceil(n * target_s / max(elapsed, 1e-9)))))


def run_for(model, inputs, batch_size: int, seconds: float, chunk: int = 1, precision: str | None = None) -> int:
    """Run chunks of ``chunk`` batches until ``seconds`` have passed; returns the samples processed.

    Checking the clock between chunks (and synchronising the GPU there) keeps the run close to
    ``seconds`` even when the machine is busy with something else, which a one-off calibration cannot.
    """
    started, batches = time.perf_counter(), 0
    while True:
        run_inference(model, inputs, batch_size, chunk, precision)
        batches += chunk
        if time.perf_counter() - started >= seconds:
            return batches * batch_size
