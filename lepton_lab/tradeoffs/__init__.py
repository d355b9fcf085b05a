"""Workloads and measured sweeps behind the guided lessons (notebooks 02-04).

Every sweep returns a pandas DataFrame with one row per setting, filled from real
``lepton_lab.measure`` reports (``kind`` says 'measured' or 'estimated'). torch, pandas and
scikit-learn are imported inside the functions, so importing this package stays cheap.
"""
from __future__ import annotations

from ..sensors.gpu_control import ControlUnavailable, GpuControl, gpu_control_problem
from .pruning import count_parameters, magnitude_prune, prune_sweep, structured_prune, zero_fraction
from .quantization import agreement, model_bytes, precision_sweep, quantize_int8
from .runs import describe_energy_source, other_load_note, target_seconds
from .scheduling import batch_size_sweep, carbon_by_hour, clock_sweep, power_cap_sweep, thread_sweep
from .workloads import (
                        accuracy,
                        describe_device,
                        fast_mode,
                        load_digits_data,
                        make_model,
                        pick_device,
                        run_inference,
                        set_threads,
                        train,
                        trained_model,
)

__all__ = [
                        "ControlUnavailable",
                        "GpuControl",
                        "accuracy",
                        "agreement",
                        "batch_size_sweep",
                        "carbon_by_hour",
                        "clock_sweep",
                        "count_parameters",
                        "describe_device",
                        "describe_energy_source",
                        "fast_mode",
                        "gpu_control_problem",
                        "load_digits_data",
                        "magnitude_prune",
                        "make_model",
                        "model_bytes",
                        "other_load_note",
                        "pick_device",
                        "power_cap_sweep",
                        "precision_sweep",
                        "prune_sweep",
                        "quantize_int8",
                        "run_inference",
                        "set_threads",
                        "structured_prune",
                        "target_seconds",
                        "thread_sweep",
                        "train",
                        "trained_model",
                        "zero_fraction",
]
