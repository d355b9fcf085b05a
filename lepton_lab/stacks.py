"""The notebook stacks lepton_lab supports, declared once, and the one line for any other.

``make test`` runs the kernel and corpus tests on the oldest supported stack (Google Colab's pins,
``tests/colab-pins.txt``) and on the newest; ``pyproject.toml``'s lower bounds are the same
numbers. :func:`check` runs at ``%load_ext``: IPython older than the floor cannot run the cell
hooks (``UsageError``, one line); an ipykernel outside the tested range still works and gets one
line on stderr saying what to install. :func:`unknown_runner` is the line for a kernel whose cell
runner ``cell_hooks`` does not recognise (the cell then runs inside the magic, never dropped).
"""
from __future__ import annotations

import re
import sys

#: package -> (oldest tested version, versions known to break lepton_lab, and why).
SUPPORTED: dict[str, tuple[tuple[int, ...], dict[tuple[int, ...], str]]] = {
    "IPython": ((7, 34), {}),
    "ipykernel": ((5, 5, 6), {
        (7, 0, 0): "drops widget updates sent from threads (the live view stands still)",
        (7, 0, 1): "drops widget updates sent from threads (the live view stands still)",
    }),
    "ipywidgets": ((7, 7, 1), {}),
}
#: What to install where a kernel's stack is outside the tested range.
FIX = {"IPython": "ipython>=7.34", "ipykernel": "ipykernel>=5.5.6,!=7.0.0,!=7.0.1",
       "ipywidgets": "ipywidgets>=7.7.1"}


def parse(version: str) -> tuple[int, ...]:
    """``'7.34.0'`` -> ``(7, 34, 0)``; a suffix (``rc1``, ``.dev0``, ``+colab``) is ignored."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def problem(package: str, version: str) -> str | None:
    """One line saying what is wrong with ``package`` at ``version`` and what to install, or None."""
    floor, broken = SUPPORTED[package]
    found = parse(version)
    padded = found + (0,) * (3 - len(found))
    if found < floor:
        oldest = ".".join(map(str, floor))
        return (f"lepton_lab needs {package} >= {oldest} (this kernel has {version}): "
                f"pip install '{FIX[package]}' and restart the kernel")
    if padded[:3] in broken:
        return (f"{package} {version} {broken[padded[:3]]}: "
                f"pip install '{FIX[package]}' and restart the kernel")
    return None


def _version(package: str) -> str | None:
    """The version of an already imported package (a kernel imports IPython and ipykernel itself)."""
    module = sys.modules.get(package)
    return getattr(module, "__version__", None) if module is not None else None


def check() -> None:
    """At ``%load_ext``: raise ``UsageError`` for an IPython too old to run the cell hooks; print
    one line for an ipykernel outside the tested range (the magic still works there)."""
    from IPython.core.error import UsageError

    ipython = _version("IPython")
    message = problem("IPython", ipython) if ipython else None
    if message:
        raise UsageError(message)
    kernel = _version("ipykernel")
    message = problem("ipykernel", kernel) if kernel else None
    if message:
        print(f"lepton_lab: {message}", file=sys.stderr)


def imports_reorder_output() -> bool:
    """Does an import in another thread reorder this kernel's output? ipykernel 5's stream flush
    skips its wait while any thread holds the import lock (``OutStream.flush``: ``imp.lock_held``),
    so a cell's prints could then go out after its displays, or after the cell's end. On such a
    kernel ``%load_ext`` does its imports in the foreground instead."""
    kernel = _version("ipykernel")
    return bool(kernel) and parse(kernel or "") < (6,)


def unknown_runner() -> str:
    """The line for a cell whose ``%%energy`` line the cell hooks never saw being removed."""
    found = ", ".join(f"{name} {_version(name)}" for name in ("IPython", "ipykernel") if _version(name))
    return (f"lepton_lab: this kernel ({found or 'not ipykernel'}) runs cells in a way lepton_lab does not "
            "recognise, so %%energy runs the body inside the magic (measured, but top-level await fails there); "
            f"use an ipykernel kernel: pip install '{FIX['ipykernel']}' '{FIX['IPython']}'")
