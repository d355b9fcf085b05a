"""The workloads and sweeps behind lessons 02-04, at tiny sizes, on this machine's CPU.

The sweeps are measured for real (the estimate sensor here); only the GPU power-control tests use
a fake NVML (``FakeControlNvml`` below), because changing a real GPU's power limit needs a GPU and
root. Timings are not asserted: they belong in benchmarks/.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import lepton_lab  # noqa: E402
from lepton_lab import tradeoffs  # noqa: E402
from lepton_lab.tradeoffs import pruning, quantization, scheduling, workloads  # noqa: E402
from tests.fakes import fake_nvml  # noqa: E402
from tests.fakes.fake_nvml import NVMLError  # noqa: E402

TINY_S = 0.1  # seconds per sweep setting: long enough for the estimate to see CPU time
KINDS = {"measured", "estimated", "partly estimated"}


@pytest.fixture(autouse=True)
def quick_mode(monkeypatch):
    """Quick mode, as in CI: one round per setting unless a test asks for more."""
    monkeypatch.setenv("LEPTON_FAST", "1")


@pytest.fixture(scope="module")
def mlp():
    model, data = tradeoffs.trained_model("mlp", device="cpu", epochs=10, hidden=32)
    return model, data


@pytest.fixture(scope="module")
def cnn():
    model, data = tradeoffs.trained_model("cnn", device="cpu", epochs=2)
    return model, data


def _check_sweep(table, rows: int, setting: str):
    assert len(table) == rows
    assert table[setting].is_unique
    assert (table["energy_j"] > 0).all()
    assert (table["duration_s"] > 0).all()
    assert (table["mean_w"] > 0).all()
    assert set(table["kind"]) <= KINDS
    assert (table["samples"] > 0).all()


# -- import hygiene ------------------------------------------------------------------------
def test_import_lepton_lab_does_not_import_tradeoffs():
    code = "import sys, lepton_lab; assert 'lepton_lab.tradeoffs' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- workloads -----------------------------------------------------------------------------
def test_device_is_chosen_automatically():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert tradeoffs.pick_device() == expected
    assert tradeoffs.describe_device("cpu").startswith("CPU: ")


def test_explicit_device_is_checked():
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        tradeoffs.pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            tradeoffs.pick_device("cuda")


def test_digits_data_is_split_and_scaled():
    data = tradeoffs.load_digits_data("cpu")
    assert len(data.x_train) + len(data.x_test) == 1797
    assert 0.0 <= float(data.x_train.min()) and float(data.x_train.max()) <= 1.0
    assert tradeoffs.load_digits_data("cpu", image=True).x_test.shape[1:] == (1, 8, 8)


def test_training_learns_the_digits(mlp, cnn):
    for model, data in (mlp, cnn):
        assert tradeoffs.accuracy(model, data.x_test, data.y_test) > 0.5  # chance is 0.1


def test_run_inference_counts_samples(mlp):
    model, data = mlp
    pool = workloads.inference_pool(data, 1000)
    assert len(pool) == 1000
    assert tradeoffs.run_inference(model, pool, 16, 5) == 80
    with pytest.raises(ValueError, match="batch size"):
        tradeoffs.run_inference(model, pool, 5000, 1)


# -- pruning -------------------------------------------------------------------------------
@pytest.mark.parametrize("amount", [0.3, 0.7, 0.9])
def test_magnitude_pruning_zeroes_the_expected_fraction(mlp, amount):
    model, _ = mlp
    pruned, removed = pruning.pruned_variant(model, "unstructured", amount)
    total = pruning.prunable_weight_count(model)
    assert tradeoffs.zero_fraction(pruned) == pytest.approx(amount, abs=1.5 / total)
    assert removed == tradeoffs.zero_fraction(pruned)
    assert tradeoffs.zero_fraction(model) < 0.01  # the original is untouched
    assert not any(name.endswith("_orig") for name, _ in pruned.named_parameters())  # made permanent


def test_magnitude_pruning_removes_the_smallest_weights(mlp):
    model, _ = mlp
    pruned, _ = pruning.pruned_variant(model, "unstructured", 0.5)
    original = torch.cat([m.weight.detach().abs().flatten() for m, _ in pruning.prunable(model)])
    kept = torch.cat([m.weight.detach().flatten() != 0 for m, _ in pruning.prunable(pruned)])
    assert float(original[~kept].max()) <= float(original[kept].min())


def test_magnitude_pruning_works_on_the_cnn(cnn):
    model, _ = cnn
    pruned, _ = pruning.pruned_variant(model, "unstructured", 0.6)
    assert tradeoffs.zero_fraction(pruned) == pytest.approx(0.6, abs=1e-3)


def test_finetuning_keeps_pruned_weights_at_zero(mlp):
    model, data = mlp
    pruned, _ = pruning.pruned_variant(model, "unstructured", 0.8, data, finetune_epochs=1)
    assert tradeoffs.zero_fraction(pruned) == pytest.approx(0.8, abs=1e-3)


def test_structured_pruning_builds_a_smaller_mlp(mlp):
    model, data = mlp
    slim, removed = pruning.pruned_variant(model, "structured", 0.5)
    widths = [m.out_features for m in slim if isinstance(m, torch.nn.Linear)]
    assert widths == [16, 16, 10]
    assert removed == pytest.approx(1 - (64 * 16 + 16 * 16 + 16 * 10) / (64 * 32 + 32 * 32 + 32 * 10))
    assert slim(data.x_test[:4]).shape == (4, 10)


def test_compaction_preserves_the_function_of_removed_neurons(mlp):
    model, data = mlp
    masked = pruning.copy.deepcopy(model)
    with torch.no_grad():  # silence neurons 0..9 of the first hidden layer entirely
        masked[0].weight[:10] = 0
        masked[0].bias[:10] = 0
    slim = pruning.compact_mlp(masked)
    assert slim[0].out_features == 22
    with torch.no_grad():
        assert torch.allclose(slim(data.x_test), masked(data.x_test), atol=1e-5)


def test_pruning_rejects_bad_settings(mlp, cnn):
    with pytest.raises(ValueError, match="sparsity"):
        pruning.pruned_variant(mlp[0], "unstructured", 1.0)
    with pytest.raises(ValueError, match="method"):
        pruning.pruned_variant(mlp[0], "random", 0.5)
    with pytest.raises(ValueError, match="MLP"):
        pruning.pruned_variant(cnn[0], "structured", 0.5)


def test_prune_sweep_gives_one_measured_row_per_setting(mlp):
    model, data = mlp
    table = tradeoffs.prune_sweep(model, data, sparsities=(0.0, 0.5), finetune_epochs=0, target_s=TINY_S, show=False)
    assert list(zip(table["method"], table["sparsity"])) == [
        ("unstructured", 0.0), ("unstructured", 0.5), ("structured", 0.0), ("structured", 0.5)]
    table["setting"] = table["method"] + table["sparsity"].astype(str)
    _check_sweep(table, 4, "setting")
    assert table["accuracy"].between(0, 1).all()
    assert table.loc[1, "weights_removed"] == pytest.approx(0.5, abs=1e-3)


# -- quantization --------------------------------------------------------------------------
def test_int8_model_gives_the_same_argmax_on_most_inputs(mlp):
    model, data = mlp
    assert quantization.int8_unavailable() is None
    quantized = tradeoffs.quantize_int8(model)
    assert tradeoffs.agreement(model, quantized, data.x_test, "cpu") >= 0.95
    assert tradeoffs.model_bytes(quantized) < 0.6 * tradeoffs.model_bytes(model)  # int8 weights, plus scales
    assert isinstance(model[0], torch.nn.Linear)  # the original is untouched


def test_bf16_autocast_mostly_agrees_with_fp32(mlp):
    model, data = mlp
    assert tradeoffs.agreement(model, model, data.x_test, "cpu", "bf16-autocast") >= 0.9


def test_precision_names_are_checked(mlp):
    with pytest.raises(ValueError, match="precision"):
        workloads.precision_context("cpu", "fp8")
    with pytest.raises(ValueError, match="GPUs"):
        quantization.variant(mlp[0], "fp16-autocast", "cpu")


def test_precision_sweep_gives_one_measured_row_per_precision(mlp):
    model, data = mlp
    table = tradeoffs.precision_sweep(model, data, ("fp32", "int8-dynamic"), target_s=TINY_S, show=False)
    _check_sweep(table, 2, "precision")
    assert table.loc[0, "agreement"] == 1.0
    assert table.loc[1, "agreement"] >= 0.95
    assert table.loc[1, "model_kb"] < table.loc[0, "model_kb"]


def test_default_precisions_follow_the_device():
    assert quantization.default_precisions("cpu") == ("fp32", "int8-dynamic", "bf16-autocast")
    assert "fp16-autocast" in quantization.default_precisions("cuda")


# -- scheduling ----------------------------------------------------------------------------
def test_batch_size_sweep_gives_one_row_per_batch_size(mlp):
    model, data = mlp
    table = tradeoffs.batch_size_sweep(model, data, (1, 8, 64), target_s=TINY_S, show=False)
    _check_sweep(table, 3, "batch_size")
    assert list(table["batch_size"]) == [1, 8, 64]
    assert (table["samples"] % table["batch_size"] == 0).all()
    assert (table["uj_per_sample"] > 0).all()


def test_rounds_are_interleaved_and_the_median_run_is_kept(mlp):
    model, data = mlp
    table = tradeoffs.batch_size_sweep(model, data, (1, 8), target_s=0.05, rounds=3, show=False)
    _check_sweep(table, 2, "batch_size")
    assert list(table["runs"]) == [3, 3] and (table["spread"] >= 1.0).all()
    labels = list(lepton_lab.history()["label"])[::-1]  # the ledger lists newest first
    assert labels == ["batch 1 (1/3)", "batch 8 (1/3)", "batch 8 (2/3)", "batch 1 (2/3)",
                      "batch 1 (3/3)", "batch 8 (3/3)"]


def test_thread_sweep_restores_the_thread_count(mlp):
    model, data = mlp
    before = torch.get_num_threads()
    table = tradeoffs.thread_sweep(model, data, (1, 2), target_s=TINY_S, show=False)
    _check_sweep(table, 2, "threads")
    assert torch.get_num_threads() == before
    assert scheduling.default_thread_counts()[0] == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="there is a GPU here")
def test_power_cap_says_no_gpu_in_one_line(mlp):
    problem = tradeoffs.gpu_control_problem()
    assert problem.startswith("no GPU") and "\n" not in problem
    table = tradeoffs.power_cap_sweep(*mlp, show=False)
    assert table.empty and table.attrs["skipped"].startswith("no GPU")
    assert tradeoffs.clock_sweep(*mlp, show=False).attrs["skipped"].startswith("no GPU")


class FakeControlNvml:
    """Fake NVML power and clock controls of one GPU (limits in mW, like NVML), raising the error
    classes of nvidia-ml-py as tests/fakes/fake_nvml.py copies them."""

    def __init__(self, permitted: bool = True):
        self.permitted, self.limit_mw, self.set_calls, self.locked = permitted, 700_000, [], None
        vars(self).update({k: v for k, v in vars(fake_nvml).items() if k.startswith("NVMLError")})

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        return f"gpu{index}"

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return "gpu0"

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle):
        return 200_000, 700_000

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle):
        return 700_000

    def nvmlDeviceGetPowerManagementLimit(self, handle):
        return self.limit_mw

    def nvmlDeviceSetPowerManagementLimit(self, handle, milliwatts):
        if not self.permitted:
            raise NVMLError(4)  # NVML_ERROR_NO_PERMISSION
        self.set_calls.append(milliwatts)
        self.limit_mw = milliwatts

    def nvmlDeviceGetSupportedMemoryClocks(self, handle):
        return [1593, 2619]

    def nvmlDeviceGetSupportedGraphicsClocks(self, handle, memory_mhz):
        assert memory_mhz == 2619
        return list(range(345, 1981, 15))

    def nvmlDeviceSetGpuLockedClocks(self, handle, low, high):
        if not self.permitted:
            raise NVMLError(4)
        self.locked = (low, high)

    def nvmlDeviceResetGpuLockedClocks(self, handle):
        self.locked = None


def test_power_cap_says_not_permitted_in_one_line(mlp):
    """Fake NVML: a non-root user's NVML refuses to set the limit."""
    problem = tradeoffs.gpu_control_problem(nvml=FakeControlNvml(permitted=False))
    assert problem.startswith("not permitted") and "root" in problem and "\n" not in problem
    table = tradeoffs.power_cap_sweep(*mlp, nvml=FakeControlNvml(permitted=False), show=False)
    assert table.empty and table.attrs["skipped"].startswith("not permitted")
    assert tradeoffs.gpu_control_problem(nvml=FakeControlNvml()) is None


def test_power_cap_sweep_sets_each_cap_and_restores_the_limit(mlp):
    """Fake NVML as root: each cap is applied while measured, then the original limit comes back."""
    nvml = FakeControlNvml()
    table = tradeoffs.power_cap_sweep(*mlp, fractions=(1.0, 0.5, 0.1), batch_size=64, target_s=TINY_S,
                                      nvml=nvml, show=False)
    _check_sweep(table, 3, "cap_w")
    assert list(table["cap_w"]) == [700, 350, 200]  # 10 % is clamped to the 200 W minimum
    assert 350_000 in nvml.set_calls and nvml.limit_mw == 700_000


def test_power_cap_is_restored_when_the_work_fails():
    """Fake NVML: an exception inside the capped block still restores the previous limit."""
    nvml = FakeControlNvml()
    with tradeoffs.GpuControl.open(0, nvml) as control:
        with pytest.raises(RuntimeError):
            with control.power_cap(300):
                assert nvml.limit_mw == 300_000
                raise RuntimeError("boom")
    assert nvml.limit_mw == 700_000


def test_clock_sweep_locks_and_resets_clocks(mlp):
    """Fake NVML: clocks spread over the supported range, highest first, reset afterwards."""
    nvml = FakeControlNvml()
    table = tradeoffs.clock_sweep(*mlp, count=3, batch_size=64, target_s=TINY_S, nvml=nvml, show=False)
    _check_sweep(table, 3, "clock_mhz")
    assert list(table["clock_mhz"]) == [1980, 1155, 345]
    assert nvml.locked is None


def test_carbon_by_hour_uses_the_measured_energy():
    table = tradeoffs.carbon_by_hour(3.6e6, 3600.0, region="FR", shape="flat")  # 1 kWh over an hour
    assert list(table["start_hour"]) == list(range(24))
    intensity = table["g_per_kwh"].iloc[0]
    assert table["co2e_g"].tolist() == pytest.approx([intensity] * 24)
    assert "France" in table.attrs["region"] and "synthetic" in table.attrs["shape"]


def test_carbon_by_hour_finds_the_cleanest_hour_of_a_solar_grid():
    table = tradeoffs.carbon_by_hour(1000.0, 60.0, region="WORLD", shape="solar")
    best = table.attrs["best_hour"]
    assert 9 <= best <= 15 and table["co2e_g"].idxmin() == best
    assert 0 < table.attrs["saving_vs_worst"] < 1
    with pytest.raises(ValueError):
        tradeoffs.carbon_by_hour(0.0, 1.0)


# -- on a real GPU (pytest -m gpu on the GPU machine; skipped here) -------------------------
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU")


@pytest.fixture(scope="module")
def gpu_mlp():
    return tradeoffs.trained_model("mlp", device="cuda", epochs=3, hidden=512)


@pytest.mark.gpu
@needs_cuda
def test_gpu_precision_and_batch_sweeps_run_on_cuda(gpu_mlp):
    model, data = gpu_mlp
    assert data.device == "cuda" and next(model.parameters()).is_cuda
    table = tradeoffs.precision_sweep(model, data, batch_size=1024, target_s=0.5, show=False)
    _check_sweep(table, 3, "precision")
    assert list(table["precision"]) == ["fp32", "fp16-autocast", "bf16-autocast"]
    assert (table["agreement"] >= 0.95).all()
    batches = tradeoffs.batch_size_sweep(model, data, (16, 4096), target_s=0.5, show=False)
    _check_sweep(batches, 2, "batch_size")


@pytest.mark.gpu
@needs_cuda
def test_gpu_power_cap_sweep_restores_the_real_limit(gpu_mlp):
    """Real NVML: needs root; otherwise the one-line reason must say 'not permitted'."""
    problem = tradeoffs.gpu_control_problem()
    if problem is not None:
        assert problem.startswith(("not permitted", "not supported", "no NVML")) and "\n" not in problem
        pytest.skip(problem)
    with tradeoffs.GpuControl.open() as control:
        before = control.power_limits_w()["current"]
    table = tradeoffs.power_cap_sweep(*gpu_mlp, fractions=(1.0, 0.6), batch_size=4096, target_s=1.0, show=False)
    _check_sweep(table, 2, "cap_w")
    with tradeoffs.GpuControl.open() as control:
        assert control.power_limits_w()["current"] == pytest.approx(before)


def test_summaries_are_built_from_the_measured_tables(mlp):
    model, data = mlp
    pruned = tradeoffs.prune_sweep(model, data, sparsities=(0.0, 0.5), methods=("structured",), finetune_epochs=0,
                                   target_s=TINY_S, show=False)
    lines = pruning.summary(pruned)
    dense = pruned.iloc[0]
    assert lines[0] == f"dense model: {dense['accuracy']:.1%} accuracy, {dense['uj_per_sample']:.3g} µJ per inference"
    assert "structured" in lines[1] and ("×" in lines[1] or "no measurable difference" in lines[1])
    precisions = tradeoffs.precision_sweep(model, data, ("fp32", "int8-dynamic"), target_s=TINY_S, show=False)
    assert quantization.summary(precisions)[1].startswith("int8-dynamic: energy per inference ")
    batches = tradeoffs.batch_size_sweep(model, data, (4, 32), target_s=TINY_S, show=False)
    assert scheduling.summary(batches, "batch_size")[-1].startswith("least energy per sample: batch_size")
    skipped = tradeoffs.power_cap_sweep(model, data, show=False)  # the CPU workload: nothing to cap
    assert scheduling.summary(skipped, "cap_w") == [skipped.attrs["skipped"]]


def _runs(median, low, high, runs=3):
    return {"uj_per_sample": median, "uj_low": low, "uj_high": high, "runs": runs}


def test_pruning_summary_calls_a_difference_only_beyond_the_spread():
    """Synthetic table, known answers: overlapping run ranges are 'no measurable difference', and a
    ratio is printed only where the ranges are apart (issue 12: the dense model measured twice)."""
    import pandas as pd

    table = pd.DataFrame([
        {"method": "unstructured", "sparsity": 0.0, "weights_removed": 0.0, "accuracy": 0.97, **_runs(10.0, 9.0, 11.0)},
        {"method": "unstructured", "sparsity": 0.5, "weights_removed": 0.5, "accuracy": 0.97, **_runs(9.6, 9.5, 11.5)},
        {"method": "structured", "sparsity": 0.0, "weights_removed": 0.0, "accuracy": 0.97, **_runs(10.2, 9.8, 10.6)},
        {"method": "structured", "sparsity": 0.5, "weights_removed": 0.75, "accuracy": 0.965, **_runs(5.0, 4.8, 5.2)},
    ])
    lines = pruning.summary(table)
    assert lines[0] == "dense model: 97.0% accuracy, 10 µJ per inference"
    assert lines[1] == ("dense model measured again (as structured 0%): 10.2 µJ, no measurable difference from "
                        "the first (inside the run-to-run spread)")
    assert lines[2].endswith("energy per inference there: no measurable difference from the dense model "
                             "(inside the run-to-run spread)")
    assert "×" not in lines[2]
    assert lines[3].endswith("energy per inference there: ×0.50 of the dense model")

    once = table.assign(runs=1)
    assert pruning.summary(once)[3].endswith("×0.50 of the dense model (one run each: no spread to tell a "
                                             "difference from noise)")


def test_a_difference_is_called_rarely_between_equals_and_mostly_between_real_changes():
    """The rule's error rates, simulated (3 rounds a setting, 5 % lognormal run-to-run noise): the
    same setting measured twice is called different in ~2 % of cases (plain non-overlapping ranges:
    10 %), a 20 % change is told in ~90 %."""
    import numpy as np

    from lepton_lab.tradeoffs.runs import measurably_different

    rng = np.random.default_rng(12)

    def called(ratio: float, trials: int = 4000) -> float:
        hits = 0
        for _ in range(trials):
            a, b = rng.lognormal(0, 0.05, 3), ratio * rng.lognormal(0, 0.05, 3)
            hits += bool(measurably_different(_runs(np.median(a), a.min(), a.max()),
                                              _runs(np.median(b), b.min(), b.max())))
        return hits / trials

    assert called(1.0) < 0.04
    assert called(0.8) > 0.8


def test_precision_and_schedule_summaries_follow_the_spread():
    import pandas as pd

    precisions = pd.DataFrame([
        {"precision": "fp32", "accuracy": 0.97, "latency_ms": 2.0, "batch_size": 256, "model_kb": 40.0,
         "agreement": 1.0, **_runs(10.0, 9.0, 11.0)},
        {"precision": "int8-dynamic", "accuracy": 0.96, "latency_ms": 1.9, "batch_size": 256, "model_kb": 12.0,
         "agreement": 0.99, **_runs(9.8, 9.5, 10.2)},
        {"precision": "bf16", "accuracy": 0.97, "latency_ms": 1.2, "batch_size": 256, "model_kb": 20.0,
         "agreement": 0.995, **_runs(6.0, 5.8, 6.2)},
    ])
    lines = quantization.summary(precisions)
    assert lines[1].startswith("int8-dynamic: energy per inference no measurable difference from fp32")
    assert lines[2].startswith("bf16: energy per inference ×0.60 of fp32, latency ×0.60, model size ×0.50")

    batches = pd.DataFrame([
        {"batch_size": b, "samples_per_s": 1000.0 * 100 / median, **_runs(median, low, high)}
        for b, median, low, high in [(1, 100.0, 95.0, 105.0), (16, 20.0, 19.0, 21.0), (256, 10.0, 9.5, 10.5),
                                     (1024, 10.2, 9.9, 10.8)]
    ])
    lines = scheduling.summary(batches, "batch_size")
    assert lines[0] == "batch_size 1: 100 µJ per sample (the reference)"
    assert lines[2] == "batch_size 256: 10 µJ per sample, ×0.10 of batch_size 1; throughput ×10.00"
    assert lines[-1] == "least energy per sample: batch_size 256 (no measurable difference from batch_size 1024)"


def test_every_setting_is_warmed_up_unrecorded_before_it_is_measured(mlp):
    """The first setting measured must not pay the warm-up for the rest (issue 12): each setting
    runs once before the rounds, through its own context, and that run is not in the ledger."""
    from contextlib import contextmanager

    from lepton_lab.tradeoffs.runs import Setting, measure_settings

    model, data = mlp
    entered: list[str] = []

    def context_for(name):
        @contextmanager
        def context():
            entered.append(name)
            yield
        return context

    pool = workloads.inference_pool(data, 512)
    settings = [Setting(name, {"name": name}, model, pool, 16, context=context_for(name)) for name in ("a", "b")]
    before = len(lepton_lab.history())
    rows = measure_settings("warm-up", settings, target_s=0.05, rounds=2, show=False)
    assert entered == ["a", "b", "a", "b", "b", "a"]  # warm-ups first, then ABBA
    assert len(lepton_lab.history()) - before == 4 and [r["runs"] for r in rows] == [2, 2]
    assert all(r["uj_low"] <= r["uj_per_sample"] <= r["uj_high"] for r in rows)


def test_tradeoff_figure_fallback_is_svg_images():
    """The lessons' bar charts carry SVG-image fallbacks (decodable XML; ESTIMATED where it is)."""
    import xml.etree.ElementTree as ET

    import pandas as pd

    from lepton_lab.tradeoffs.plots import tradeoff_figure
    from lepton_lab.widgets.svg import svgs_in

    table = pd.DataFrame({"sparsity": ["0 %", "50 %", "0 %", "50 %"], "method": ["a", "a", "b", "b"],
                          "energy_j": [2.0, 1.0, 2.5, 1.5], "accuracy": [0.9, 0.8, 0.9, 0.85],
                          "latency_ms": [0.2, 0.5, 0.3, 0.6], "kind": ["estimated"] * 4})
    box = tradeoff_figure(table, "sparsity", [("energy_j", "energy (J)"), ("accuracy", "accuracy"),
                                              ("latency_ms", "ms per batch")], group="method")
    html = box._repr_mimebundle_()["text/html"]
    assert "<svg" not in html
    energy, accuracy, latency = [ET.fromstring(svg) for svg in svgs_in(html)]
    latency_labels = [t.text or "" for t in latency.iter("{http://www.w3.org/2000/svg}text")]
    # A timing is not an estimate of energy; and its ticks are plain milliseconds, not '500m'.
    assert "ms per batch" in latency_labels and not any("ESTIMATED" in label for label in latency_labels)
    assert "0.4" in latency_labels and not any(label.endswith("m") and label[:-1] for label in latency_labels
                                                if label[:1].isdigit())
    labels = [t.text for t in energy.iter("{http://www.w3.org/2000/svg}text")]
    assert "energy (J) — ESTIMATED" in labels and {"a", "b", "0 %", "50 %"} <= set(labels)
    accuracy_labels = [t.text or "" for t in accuracy.iter("{http://www.w3.org/2000/svg}text")]
    assert not any("ESTIMATED" in label for label in accuracy_labels)
    assert "100" in accuracy_labels and "150" not in accuracy_labels  # shares end at 100 %


def _row(view, energy, process, samples=100):
    return {"view": view, "energy_j": energy, "machine_energy_j": energy if view == "machine" else 10.0,
            "process_energy_j": process, "mean_w": energy / 2, "co2e_g": energy * 1e-4,
            "uj_per_sample": 1e6 * energy / samples}


def test_a_sweep_never_mixes_a_kernels_share_with_the_whole_machine():
    """attribute=auto picks a view per measurement; one sweep's table must use one view throughout."""
    from lepton_lab.tradeoffs.runs import in_one_view

    mixed = [[_row("machine", 10.0, 4.0)], [_row("process", 3.0, 3.0)]]
    (quiet,), (busy,) = in_one_view(mixed)
    assert quiet["view"] == busy["view"] == "process"
    assert quiet["energy_j"] == pytest.approx(4.0) and busy["energy_j"] == pytest.approx(3.0)
    assert quiet["mean_w"] == pytest.approx(2.0) and quiet["co2e_g"] == pytest.approx(4e-4)
    assert quiet["uj_per_sample"] == pytest.approx(4e4) and quiet["machine_energy_j"] == 10.0

    # One run that could not be attributed (a replay, unreadable CPU times): all show the machine.
    (a,), (b,) = in_one_view([[_row("machine", 10.0, None)], [_row("process", 3.0, 3.0)]])
    assert a["view"] == b["view"] == "machine"
    assert (a["energy_j"], b["energy_j"]) == (10.0, 10.0) and b["uj_per_sample"] == pytest.approx(1e5)

    untouched = [[_row("machine", 10.0, 4.0)], [_row("machine", 8.0, 3.0)]]
    assert in_one_view(untouched) == untouched


def test_sweep_rows_keep_both_views(mlp):
    model, data = mlp
    table = tradeoffs.batch_size_sweep(model, data, (1, 8), target_s=TINY_S, show=False)
    assert set(table["view"]) <= {"machine", "process"} and len(set(table["view"])) == 1
    assert (table["machine_energy_j"] >= table["energy_j"] * 0.999).all()
    assert table["process_energy_j"].notna().all() and table["other_load"].between(0, 1).all()


def test_the_busy_note_is_a_measured_share_of_other_load():
    """A real process outside this one's tree burns two CPUs; the note gives its measured share and
    names the view. (Without load the note may or may not appear: CI machines have neighbours.)"""
    from lepton_lab.sensors.cpu_times import tree_pids
    from lepton_lab.tradeoffs.background import BackgroundBurner

    with BackgroundBurner(threads=2, max_seconds=30) as burner:
        assert burner.pid not in tree_pids()  # someone else's load, not this process's child
        time.sleep(0.2)  # the burner's interpreter starting
        note = tradeoffs.other_load_note(seconds=0.5)
    assert "other processes used" in note and "over 10%" in note and "for the whole session" in note, note
    assert "view: process" in note or "view: machine" in note, note  # the session's view, named
    share = int(note.split("used ")[1].split("%")[0])
    assert share >= 40, note  # two busy threads on this machine's CPUs (two on the project's VM): most of it


def test_a_burner_watching_a_process_stops_once_that_process_is_gone():
    """The busy-machine plugin's neighbour (tests/busy.py) watches the test session: a session
    killed outright must not leave a CPU spinning for the burner's whole time limit."""
    from lepton_lab.tradeoffs.background import BackgroundBurner

    def running(pid: int) -> bool:  # a zombie (exited, not yet reaped by init) counts as gone
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except OSError:
            return False

    session = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    burner = BackgroundBurner(threads=1, max_seconds=60, watch_pid=session.pid).start()
    try:
        assert running(burner.pid)
        session.kill()
        session.wait()
        deadline = time.monotonic() + 30
        while running(burner.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(burner.pid), "the burner outlived the process it watched"
    finally:
        burner.stop()
        session.kill()


def test_the_claim_search_measures_pairs_and_confirms_the_winner_afresh(mlp):
    """Lesson 07's search, tiny: every candidate in A B A B pairs with the baseline (the ledger shows
    the order), the winner chosen among candidates that keep the accuracy, confirmed in new pairs."""
    from lepton_lab.tradeoffs import claim

    model, data = mlp
    result = claim.search(model, data, sparsities=(0.0, 0.5), precisions=("fp32",), batch_sizes=(1, 32),
                          repeats=2, confirm=2, target_s=0.05, finetune_epochs=0, show=False)
    table = result.table
    assert list(table["candidate"]) == ["0% pruned · fp32 · batch 32", "50% pruned · fp32 · batch 1",
                                        "50% pruned · fp32 · batch 32"]
    assert (table["pairs"] == 2).all() and table["pareto"].any()
    assert (table["cut_low"] <= table["cut"]).all() and (table["cut"] <= table["cut_high"]).all()
    # One estimator for every column (issue 18): the printed figures agree arithmetically.
    assert [claim.check_row(row) for _, row in table.iterrows()] == [None] * 3
    shown = claim.shown(table)
    assert list(shown.columns)[3:6] == ["µJ/inference", "baseline µJ", "cut"]
    assert all(" to " in cell for cell in shown["cut"]) and all(" to " in cell for cell in shown["µJ/inference"])
    labels = list(lepton_lab.history()["label"])[::-1]
    assert labels[:4] == ["pair 1/2 · baseline", "pair 1/2 · 0% pruned · fp32 · batch 32",
                          "pair 2/2 · baseline", "pair 2/2 · 0% pruned · fp32 · batch 32"]
    assert labels[-4].startswith("confirm 1/2 · baseline") and len(labels) == 2 * 2 * 3 + 2 * 2
    if result.best is not None:
        eligible = table[table["eligible"]]
        assert result.best["candidate"] == eligible.loc[eligible["cut"].idxmax(), "candidate"]
        assert result.confirmed.pairs == 2 and result.verdict[0] in ("reproduced", "not reproduced", "can't tell")
        lines = claim.describe(result)
        assert lines[3].startswith("verdict: ")
        assert all(line.startswith("batching alone (dense fp32, batch 32): ") for line in lines[4:-1]), lines
        assert "ESTIMATED" in lines[-1] or "attributed" in lines[-1]  # no sensor here: never called measured


def test_threads_are_set_for_the_machine_and_said(monkeypatch):
    """Issue 18: torch's default threads on a busy 2-CPU laptop made batch 64 ~100× slower per image
    than one thread. One CPU is left free (1 thread on 2 CPUs), and the line says why."""
    import torch

    from lepton_lab.tradeoffs import workloads

    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(workloads, "usable_cpus", lambda: 2)
        assert workloads.sensible_threads() == 1
        line = tradeoffs.set_threads()
        assert torch.get_num_threads() == 1 and "1 thread(s) of this machine's 2 CPU(s)" in line
        assert "Oversubscription" in line and "\n" not in line
        monkeypatch.setattr(workloads, "usable_cpus", lambda: 1)
        assert workloads.sensible_threads() == 1  # never zero
        monkeypatch.setattr(workloads, "usable_cpus", lambda: 16)
        assert 1 <= workloads.sensible_threads() <= 15
        tradeoffs.set_threads(3)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
