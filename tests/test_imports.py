"""Imports stay light: `import lepton_lab`, `%load_ext lepton_lab` and the pure packages load no
heavy or optional dependency until it is used. Each case runs in a fresh interpreter."""
from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "numpy", "sklearn", "pynvml", "IPython", "ipywidgets", "bqplot", "psutil")

CASES = {
    "import lepton_lab": ("import lepton_lab", HEAVY),
    # With LEPTON_LAB_PREWARM=0 nothing runs after %load_ext returns, so the check is exact.
    "load_ext": (
        "import os; os.environ['LEPTON_LAB_PREWARM'] = '0';"
        "from IPython.core.interactiveshell import InteractiveShell;"
        "InteractiveShell.instance().run_line_magic('load_ext', 'lepton_lab')",
        ("torch", "pandas", "numpy", "sklearn", "pynvml", "psutil", "ipywidgets", "bqplot"),
    ),
    # By default %load_ext prepares the first measurement in a background thread: once that is
    # done, the sensor libraries are loaded, and still nothing else heavy.
    "load_ext then prewarm": (
        "from IPython.core.interactiveshell import InteractiveShell;"
        "InteractiveShell.instance().run_line_magic('load_ext', 'lepton_lab');"
        "import threading; [t.join(30) for t in threading.enumerate() if t.name == 'lepton-prewarm']",
        ("torch", "pandas", "numpy", "sklearn", "ipywidgets", "bqplot"),
    ),
    # The local path never climbs into the cluster module (measurement_choice imports it for --dask only).
    "a local measure()": (
        "import lepton_lab; m = lepton_lab.measure(save=False); m.__enter__(); m.__exit__(None, None, None)",
        ("lepton_lab.cluster", "distributed", "dask", "pandas", "IPython", "ipywidgets", "bqplot"),
    ),
    "pure packages": (
        "import lepton_lab.whatif, lepton_lab.widgets, lepton_lab.serve, lepton_lab.tradeoffs, lepton_lab.carbon",
        ("torch", "pandas", "numpy", "sklearn", "pynvml", "IPython", "ipywidgets", "bqplot"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_import_loads_nothing_heavy(case):
    statement, forbidden = CASES[case]
    code = (f"import sys; before = set(sys.modules); {statement}; "
            f"print(sorted(m for m in {forbidden!r} if m in sys.modules and m not in before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_a_missing_extra_is_one_line_naming_it():
    """report.plot() and Comparison.widget without their packages (hidden from the import system)."""
    code = """
import sys
sys.modules["numpy"] = None
from lepton_lab.report import EnergyReport, DomainEnergy
report = EnergyReport("r", "ok", "", 1.0, {"cpu:estimated": DomainEnergy(1.0, 1.0, None, "estimate")})
try:
    report.plot()
except ImportError as exc:
    print(type(exc).__name__, exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "MissingDependency report.plot() needs the 'numpy' package: pip install 'lepton_lab[data]'"
