"""``python -m tests.notebooks_colab_cell``: the Colab install cell first in every notebook of
``notebooks/``, and README's "Open in Colab" links; ``--check`` changes nothing and exits 1 if
either is out of date (tests/test_colab.py runs it).

Idempotent: the cell is found by its id and rewritten in place; every other cell, and the file's
own JSON layout, are left as they are. The repository's public address is declared once, here.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

#: PLACEHOLDER owner: the project's public GitHub repository is not known yet. Set it here and run
#: this module again (the README's links and every lesson's install cell follow).
REPOSITORY = "OWNER/lepton_lab"
CELL_ID = "colab-install"
REQUIREMENT = f"lepton_lab[colab] @ git+https://github.com/{REPOSITORY}"
ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- colab-links: made by python -m tests.notebooks_colab_cell -->", "<!-- /colab-links -->"

CELL_SOURCE = f"""\
# Google Colab only: installs lepton_lab (it moves none of Colab's own packages). For the GPU
# paths choose Runtime > Change runtime type > a GPU first. Anywhere else this cell does nothing.
try:
    import google.colab  # noqa: F401
except ImportError:
    pass
else:
    import shutil
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "{REQUIREMENT}"], check=True)
    if shutil.which("nvidia-smi") is None:
        print("lepton_lab installed. No GPU here: Runtime > Change runtime type > T4 GPU, then run again")
    else:
        print("lepton_lab installed. GPU runtime: the lessons run on CUDA and read NVML")"""


def colab_url(notebook: str) -> str:
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{notebook}"


def install_cell() -> dict:
    lines = CELL_SOURCE.splitlines(keepends=True)
    return {"cell_type": "code", "execution_count": None, "id": CELL_ID, "metadata": {}, "outputs": [],
            "source": lines}


def with_install_cell(text: str) -> str:
    """The notebook's JSON text with the install cell first (indent 1, key order kept, as Jupyter writes)."""
    notebook = json.loads(text)
    cells = [c for c in notebook["cells"] if c.get("id") != CELL_ID]
    notebook["cells"] = [install_cell()] + cells
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def links_block(notebooks: list[str]) -> str:
    rows = [f"| `{Path(name).stem}` | [Open in Colab]({colab_url(name)}) |" for name in notebooks]
    return "\n".join([
        START, "| lesson | Colab |", "| --- | --- |", *rows, "",
        f"The install cell runs `pip install '{REQUIREMENT}'` (the same line works in any Colab or Kaggle "
        "notebook). `OWNER` is a placeholder for the repository's GitHub owner, set once in "
        "`tests/notebooks_colab_cell.py`: change it there and run `python -m tests.notebooks_colab_cell`.", END])


def with_links(readme: str, notebooks: list[str]) -> str:
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} ... {END} block for the Colab links")
    before, rest = readme.split(START, 1)
    return before + links_block(notebooks) + rest.split(END, 1)[1]


def updates(root: Path = ROOT) -> dict[Path, str]:
    """Every file whose text would change, with its new text."""
    paths = sorted((root / "notebooks").glob("*.ipynb"))
    changed = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if (new := with_install_cell(text)) != text:
            changed[path] = new
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    if (new := with_links(text, [p.name for p in paths])) != text:
        changed[readme] = new
    return changed


def main(argv: list[str]) -> int:
    changed = updates()
    for path, text in changed.items():
        if "--check" in argv:
            print(f"{path.relative_to(ROOT)}: out of date: run python -m tests.notebooks_colab_cell")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
    return 1 if changed and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
