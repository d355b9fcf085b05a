"""``python -m tests.stack_pins PINS``: is every ``name==version`` pin of PINS still installed?

`make test` builds the oldest stack (.venv-colab) by installing Colab's pins, then the README's
Colab line (``pip install -e '.[colab]'``) without constraints, then runs this: a pin that pip
moved is one line naming it, and the build stops.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503: jupyter_client == jupyter-client


def pinned(text: str) -> dict[str, str]:
    """``name==version`` lines (comments and blank lines skipped) as {normalised name: version}."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"{line!r}: a pin must be name==version")
            pins[_name(name)] = version.strip()
    return pins


def moved(pins: dict[str, str], freeze: str) -> list[str]:
    """One line per pin that ``pip freeze`` output does not show at its pinned version."""
    installed = {}
    for line in freeze.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            installed[_name(name)] = version.strip()
    return [f"{name} is {installed.get(name, 'not installed')}, pinned {version}"
            for name, version in pins.items() if installed.get(name) != version]


def main(argv: list[str]) -> int:
    pins = pinned(Path(argv[0]).read_text())
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], check=True, capture_output=True, text=True).stdout
    problems = moved(pins, freeze)
    for problem in problems:
        print(f"{argv[0]}: {problem} (the install moved a pin it must keep)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
