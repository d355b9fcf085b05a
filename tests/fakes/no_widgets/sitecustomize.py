"""Put on a kernel's PYTHONPATH: ipywidgets and bqplot cannot be imported there, as in a kernel
installed without lepton_lab's ``lab`` extra (tests/test_kernel_live.py)."""
import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("ipywidgets", "bqplot"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
