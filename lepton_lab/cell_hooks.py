"""How ``%%energy`` measures a cell that IPython runs itself (a notebook, terminal IPython).

IPython decides much of a cell's meaning from its first line and its length: a cell magic below
(``%%capture``, ``%%bash``, ``%%timeit``), one-line automagic (``ls dir``), the dedent of pasted
indented code, line numbers in tracebacks and warnings, ``In[N]``. So the ``%%energy`` line must be
gone before IPython looks at the cell, and nothing may take its place:

1. :func:`strip_energy_line`, the first clean-up input transformer, removes that line when the
   cell is about to *run as a cell*: the shell transforms it for itself (``run_cell``; on IPython
   7.x also ``should_run_async`` and ``run_cell_async``, which ipykernel 5 calls with the raw
   cell), or a kernel does (ipykernel 6/7's ``do_execute``). IPython then transforms and runs the
   rest exactly as if the magic were not there. Elsewhere (``%%time`` transforming its body, a
   silent run) it leaves the line alone, and IPython's own cell-magic rule calls ``%%energy`` the
   classic way (``EnergyMagics.energy``).
2. ``pre_run_cell`` fires after that transformation and before the body is compiled. It reads
   the raw cell's ``%%energy`` line, parses the options and starts measuring. A cell whose line
   was not removed although it runs as a cell comes from a runner this module does not know: it
   says so in one line (:func:`lepton_lab.stacks.unknown_runner`) and leaves the cell to the
   classic path, which measures it without top-level ``await``.
3. ``pre_run_cell`` cannot stop a cell. When the options are bad or starting failed (a sensor
   gone, Ctrl-C during ``--baseline``), :class:`StartFailureGate`, an AST transformer, replaces
   this cell's compiled body by a ``raise`` of that error: one ``UsageError`` line (or one
   interrupt line), a failed cell, and nothing of the body run.
4. ``post_run_cell`` stops the measurement with the cell's outcome, including a body that failed
   to compile.
"""
from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: ``%%energy ARGS`` as the first non-blank line (IPython allows blank lines and indentation there).
_MAGIC_LINE = re.compile(r"^[ \t]*%%energy(?=\s|$)(.*)$")
#: How far up the stack a transformer looks for the shell's ``transform_cell``, then for the run's
#: ``silent`` flag (ipykernel 5's ``do_execute`` -> ``should_run_async`` -> ``transform_cell``).
_FRAMES = 8
#: ``--repeat`` runs the body several times, so the magic itself must run it (the classic path).
REPEAT_FLAG = re.compile(r"(^|\s)--repeat(\s|=|$)")


def find_energy_line(lines: list[str]) -> tuple[int, str] | None:
    """``(index, argstring)`` of a leading ``%%energy`` line, or None (not ours, or ``%%energy?``)."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        match = _MAGIC_LINE.match(line.rstrip("\r\n"))
        if not match or match.group(1).rstrip().endswith("?"):
            return None
        return index, match.group(1).strip()
    return None


def energy_argstring(raw_cell: str) -> str | None:
    """The options of a cell that starts with ``%%energy``, else None."""
    if "%%energy" not in raw_cell:  # the common case, decided without splitting the cell
        return None
    found = find_energy_line(raw_cell.splitlines(keepends=True))
    return found[1] if found else None


def _runs_as_a_cell() -> bool:
    """Is ``transform_cell`` being called to run the result as a cell, in a run that is not silent?

    The rule holds on every supported stack: the caller is the shell itself (any of its methods:
    ``_run_cell``, or IPython 7's ``should_run_async``/``run_cell_async`` that ipykernel 5 calls
    with the raw cell) or a Jupyter kernel (ipykernel 6/7 transform in ``do_execute``). A magic
    (``%%time``) transforming its body is neither. ``silent`` is read from the nearest frame that
    has it, since ``should_run_async`` does not.
    """
    frame = sys._getframe(2)
    for _ in range(_FRAMES):  # this transformer <- TransformerManager.transform_cell <- shell.transform_cell
        if frame is None:
            return False
        if frame.f_code.co_name == "transform_cell" and "raw_cell" in frame.f_locals:
            shell = frame.f_locals.get("self")
            caller = frame.f_back
            if caller is None or not _is_cell_runner(caller.f_locals.get("self"), shell):
                return False
            return not _silent(caller)
        frame = frame.f_back
    return False


def _is_cell_runner(owner: Any, shell: Any) -> bool:
    if owner is shell:
        return True
    kernelbase = sys.modules.get("ipykernel.kernelbase")
    return kernelbase is not None and isinstance(owner, kernelbase.Kernel) and getattr(owner, "shell", None) is shell


def _silent(frame: Any) -> bool:
    for _ in range(_FRAMES):
        if frame is None:
            return False
        if "silent" in frame.f_locals:
            return bool(frame.f_locals["silent"])
        frame = frame.f_back
    return False


#: The last cell whose ``%%energy`` line was removed: ``pre_run_cell`` checks it is the one running
#: (IPython 7 does not pass the transformed cell to the event).
_stripped: list[str] = [""]


def strip_energy_line(lines: list[str]) -> list[str]:
    """Input transformer: drop a leading ``%%energy`` line from a cell that is about to run."""
    found = find_energy_line(lines)
    if found is None or REPEAT_FLAG.search(found[1]) or not _runs_as_a_cell():
        return lines
    _stripped[0] = "".join(lines)
    index = found[0]
    return lines[:index] + lines[index + 1:]


def take_stripped(raw_cell: str) -> bool:
    """Did :func:`strip_energy_line` remove this cell's ``%%energy`` line (IPython adds a final newline)?"""
    stripped = _stripped[0] in (raw_cell, raw_cell + "\n")
    if stripped:
        _stripped[0] = ""
    return stripped


# check_complete() skips transformers that declare side effects. Skipping this one keeps terminal
# IPython's "a cell magic ends at a blank line" rule for %%energy, and it never runs per keystroke.
strip_energy_line.has_side_effects = True  # type: ignore[attr-defined]


class BaselineInterrupted(KeyboardInterrupt):
    """Ctrl-C while ``--baseline`` measured idle power: the cell's body was not run."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"KeyboardInterrupt: {self}"]


@dataclass
class _Cell:
    info: Any
    measurement: Any = None
    failure: BaseException | None = None
    compiled: bool = False


@dataclass
class CellHooks:
    """The ``pre_run_cell``/``post_run_cell`` handlers and the AST gate, for one shell.

    ``begin(argstring)`` parses the options and starts a measurement (raising ``UsageError`` for
    bad input); its result needs ``finish(status, error)``. Cells nest (``%%capture`` around
    ``%%energy``, ``get_ipython().run_cell(...)``), so the running ones are kept on a stack.
    """

    shell: Any
    begin: Callable[[str], Any]
    running: list[_Cell] = field(default_factory=list)
    told_unknown_runner: bool = False

    def __post_init__(self) -> None:
        self.gate = StartFailureGate(self)

    def install(self) -> None:
        cleanup = self.shell.input_transformers_cleanup
        if strip_energy_line not in cleanup:
            cleanup.insert(0, strip_energy_line)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.shell.ast_transformers.append(self.gate)

    def uninstall(self) -> None:
        cleanup = self.shell.input_transformers_cleanup
        if strip_energy_line in cleanup:
            cleanup.remove(strip_energy_line)
        for event, handler in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(event, handler)
            except ValueError:
                pass
        if self.gate in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self.gate)
        while self.running:
            cell = self.running.pop()
            if cell.measurement is not None:
                cell.measurement.finish(None)

    # -- events ---------------------------------------------------------------------------
    def pre_run_cell(self, info) -> None:
        raw_cell = getattr(info, "raw_cell", "") or ""
        argstring = energy_argstring(raw_cell)
        if argstring is None:
            return
        if REPEAT_FLAG.search(argstring):
            return  # left for the magic, which runs the body once per trial
        if not take_stripped(raw_cell):  # an unknown runner: IPython calls %%energy itself (classic path)
            if not self.told_unknown_runner:
                from .stacks import unknown_runner

                print(unknown_runner(), file=sys.stderr)
                self.told_unknown_runner = True
            return
        cell = _Cell(info)
        self.running.append(cell)
        try:
            cell.measurement = self.begin(argstring)
        except KeyboardInterrupt:
            cell.failure = BaselineInterrupted(
                "interrupted while --baseline measured idle power; the cell did not run and nothing was recorded"
            )
        except Exception as exc:  # UsageError (bad options, sensor gone): the gate stops the body
            from IPython.core.error import UsageError

            cell.failure = exc if isinstance(exc, UsageError) else UsageError(
                f"lepton_lab could not start measuring ({type(exc).__name__}: {exc}); the cell did not run"
            )

    def post_run_cell(self, result) -> None:
        cell = self._pop(result)
        if cell is None:
            return
        if cell.failure is not None and not cell.compiled:
            # The body failed to compile before the gate could raise: say what was wrong anyway.
            self.shell.showtraceback((type(cell.failure), cell.failure, None))
        if cell.measurement is None:
            return
        error = None
        if result is not None:
            error = result.error_in_exec or result.error_before_exec
        cell.measurement.finish(error)

    def _pop(self, result) -> _Cell | None:
        """The running cell this result belongs to; cells above it (whose end never came) end too."""
        info = getattr(result, "info", None)
        position = next((i for i in range(len(self.running) - 1, -1, -1) if self.running[i].info is info), None)
        if position is None and info is not None:
            raw = getattr(info, "raw_cell", None)
            position = next((i for i in range(len(self.running) - 1, -1, -1)
                             if getattr(self.running[i].info, "raw_cell", None) == raw), None)
        if position is None:
            return None
        cell = self.running[position]
        for orphan in self.running[position + 1:]:
            if orphan.measurement is not None:
                orphan.measurement.finish(None)
        del self.running[position:]
        return cell

    def take_failure(self) -> BaseException:
        """Called by the gate's generated ``raise``: the error that stopped the current cell."""
        for cell in reversed(self.running):
            if cell.failure is not None:
                return cell.failure
        from IPython.core.error import UsageError

        return UsageError("lepton_lab: the measurement could not start")


class StartFailureGate(ast.NodeTransformer):
    """AST transformer: a cell whose measurement could not start raises that error instead of running.

    It looks only at the first compilation after ``pre_run_cell`` (the cell's own; ``%%time`` or a
    nested cell compiles later), and costs nothing for any other cell.
    """

    _RAISE = "raise __import__('lepton_lab.magic', fromlist=['_']).take_start_failure()"

    def __init__(self, hooks: CellHooks):
        self.hooks = hooks

    def visit(self, node):
        running = self.hooks.running
        if not running or running[-1].compiled or not isinstance(node, ast.Module):
            return node
        cell = running[-1]
        cell.compiled = True
        if cell.failure is None:
            return node
        gate = ast.parse(self._RAISE)
        for child in ast.walk(gate):  # line 1 of the cell; the error shows no traceback anyway
            if hasattr(child, "lineno"):
                child.lineno = child.end_lineno = 1
        node.body = gate.body
        return node
