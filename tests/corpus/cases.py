"""Cells for the corpus test written from IPython's documented behaviour, not from our own code.

Each is what IPython's documentation says a cell can be (reference: "Built-in magic commands",
"IPython reference: Magic command system / Automagic / Autocall / System shell access", the
``IPython.display`` API, the input transformer notes in ``IPython.core.inputtransformer2``), run
once as written and once with ``%%energy`` on its first line. A cell with ``{energy}`` gets the
magic there instead (``%%capture`` around ``%%energy``, a nested ``run_cell``); in the plain run
that placeholder is simply removed.
"""
from __future__ import annotations

ENERGY = "{energy}"

#: A cell, or (cell, why its outputs may differ on purpose).
CASES: list[str | tuple[str, str]] = [
    # -- a cell magic under %%energy, of every kind the issue names -------------------------
    '%%capture captured\nprint("to stdout")\nimport sys\nprint("to stderr", file=sys.stderr)\n6 * 7',
    "captured.stdout, captured.stderr",
    "captured.show()",
    '%%bash\necho "from bash $((6 * 7))"\necho "to stderr" >&2',
    "%%writefile corpus_mod.py\ndef double(x):\n    return 2 * x\n",
    "import corpus_mod\ncorpus_mod.double(21)",
    "%%file corpus_script.py\nprint('script ran as', __name__)\nresult = 7\n",
    "%run corpus_script.py",
    "result * 6",
    "%%html\n<b>bold</b> and <i>italic</i>",
    "%%latex\n\\begin{equation} \\alpha^2 + \\beta^2 \\end{equation}",
    '%%javascript\nconsole.log("from a cell")',
    '%%js\nconsole.log("again")',
    "%%markdown\n# A title\nwith *emphasis*",
    '%%svg\n<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle cx="10" cy="10" r="8"/></svg>',
    "%%script python3\nprint(sum(range(10)))",
    "%%python3\nimport sys\nprint(sys.argv[0] == '-' or True)",
    '%%sh\necho "from sh"',
    '%%perl\nprint "from perl\\n";',
    "%%timeit -n 3 -r 2\nsum(range(100))",
    "%%timeit -o -n 1 -r 1\npass",
    "%%time\nsum(range(1000))",
    "%%capture --no-stderr quiet\nimport sys\nprint('kept on stderr', file=sys.stderr)",
    "%%prun -q -l 1\nsum(range(100))",
    # -- one-line automagic, aliases, autocall ---------------------------------------------
    "ls",
    "pwd",
    "%alias say echo %s",
    "say hello",
    "%autocall 1",
    "str 42",
    "%autocall 0",
    "%time sum(range(10))",
    # -- pasted, uniformly indented code ---------------------------------------------------
    "    x = 1\n    y = 2\n    x + y",
    "\n    z = 3\n\n    z * 2",
    "        def nested(a):\n            return a - 1\n        nested(10)",
    # -- displays --------------------------------------------------------------------------
    "from IPython.display import clear_output, display, update_display, HTML",
    'handle = display("first", display_id=True)',
    'handle.update("second")',
    'display("a", display_id="fixed")\nupdate_display("b", display_id="fixed")',
    "display(1)\ndisplay(HTML('<p>two</p>'))\n3",
    'print("gone")\nclear_output()\nprint("kept")',
    'print("old")\nclear_output(wait=True)\nprint("new")',
    'print("stays until the next output")\nclear_output(wait=True)',
    "for i in range(3):\n    clear_output(wait=True)\n    display(f'frame {i}')",
    # -- a clear_output(wait=True) left pending at the cell's end never fires: the output stays.
    # Cells 3, 4 and 9-11 of nbclient's own test notebook tests/files/"Clear Output.ipynb" ...
    'print("Hello world", end="")\nclear_output(wait=True)  # no output after this',
    'print("Hello", end="")\nclear_output(wait=True)  # here we have new output after wait=True\n'
    'print("world", end="")',
    'handle3 = display("Hello world", display_id="id3")\nclear_output(wait=True)',
    'handle4 = display("Hello", display_id="id4")\nclear_output(wait=True)\nprint("world", end="")',
    'handle4.update("Hello world")  # it is cleared, so it should not show up in the above cell',
    # ... and progress loops that end with a clear, quick and long enough for a live view.
    "for i in range(3):\n    print(f'step {i}')\n    clear_output(wait=True)",
    "import time\nfor i in range(4):\n    clear_output(wait=True)\n    print(f'epoch {i}')\n    time.sleep(0.15)\n"
    "clear_output(wait=True)",
    "for i in range(3):\n    display(f'frame {i}')\n    time.sleep(0.2)\n    clear_output(wait=True)",
    "6 * 7;",
    # -- errors, tracebacks, warnings ------------------------------------------------------
    "def inner(x):\n    return 1 / x\n\ndef outer():\n    return inner(0)\n\nouter()",
    "import warnings\nwarnings.warn('careful')\n'after the warning'",
    "x = (1,\ny = 2",
    "def f():\nreturn 1",
    "raise ValueError('from line 1')",
    "raise KeyboardInterrupt",
    "raise SystemExit('bye')",
    "undefined_name + 1",
    # -- history and the output cache ------------------------------------------------------
    "6 * 7",
    "_ + 1",
    "Out[len(Out) and max(Out)] if Out else None",
    "print(repr(In[len(In) - 1]))",
    # -- shell access, await, help ---------------------------------------------------------
    "!echo from the shell",
    "files = !ls\nlen(files) > 0",
    "import asyncio\nawait asyncio.sleep(0)\n'awaited'",
    "len?",
    "# only a comment",
    # -- the namespace, nested cells -------------------------------------------------------
    "kept = 1\n%reset -f\n'kept' in dir()",
    f"get_ipython().run_cell('{ENERGY}\\nn = 6\\nn * 7').result",
    f"%%capture around\n{ENERGY}\nprint('inside the capture')",
    "around.stdout",
]


def cells_and_reasons() -> tuple[list[str], dict[int, str]]:
    """The cells, and index -> reason for those that differ on purpose."""
    cells, reasons = [], {}
    for index, case in enumerate(CASES):
        if isinstance(case, tuple):
            case, reasons[index] = case
        cells.append(case)
    return cells, reasons


def plain(cell: str) -> str:
    """The cell as run without the magic."""
    return cell.replace(ENERGY + "\\n", "").replace(ENERGY + "\n", "").replace(ENERGY, "")


def measured(cell: str, flags: str = "") -> str:
    """The cell as run with the magic: at ``{energy}``, else on a new first line."""
    line = f"%%energy {flags}".rstrip()
    if ENERGY in cell:
        return cell.replace(ENERGY + "\\n", line + "\\n").replace(ENERGY + "\n", line + "\n")
    return line + "\n" + cell
