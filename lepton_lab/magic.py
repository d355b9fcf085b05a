"""``%%energy`` and ``%energy``: the IPython presenter.

Two paths run a measured cell:

* **Kernel path** (what a notebook uses). An input transformer replaces the ``%%energy`` line by
  one call that starts the measurement, keeping the cell's own lines (and line numbers) as they
  are; IPython then runs the body as an ordinary cell, so ``%magics``, ``!shell``, the displayed
  last value, ``_``, top-level ``await``, tracebacks and the failed-cell status are untouched.
  The ``post_run_cell`` event stops the measurement with the cell's outcome.
* **Classic path**: ``run_cell_magic('energy', ...)`` (nested magics, scripts) runs the body
  itself inside try/finally. It cannot support top-level ``await``.
"""
from __future__ import annotations

import re
import sys

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .cell_runner import CellMeasurement, run_body
from .errors import LeptonError

_MAGIC_LINE = re.compile(r"^(\s*)%%energy(?=\s|$)(.*)$")
_START_CALL = "__import__('lepton_lab.magic', fromlist=['_']).start_cell({args!r})"
SUBCOMMANDS = ("sensors", "history", "last", "compare", "help")


def energy_cell_transformer(lines: list[str]) -> list[str]:
    """Turn a leading ``%%energy ARGS`` line into a start call on the same line number."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        match = _MAGIC_LINE.match(line.rstrip("\r\n"))
        if not match or match.group(2).rstrip().endswith("?"):
            return lines  # not ours, or `%%energy?` help: leave it to IPython
        call = _START_CALL.format(args=match.group(2).strip())
        return lines[:index] + [call + "\n"] + lines[index + 1:]
    return lines


# check_complete() skips transformers that declare side effects; skipping ours keeps terminal
# IPython's "a cell magic ends at a blank line" behaviour for %%energy.
energy_cell_transformer.has_side_effects = True


def _with_usage_errors(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except LeptonError as exc:
        raise UsageError(str(exc)) from None


@magics_class
class EnergyMagics(Magics):
    def __init__(self, shell):
        super().__init__(shell)
        self.active: CellMeasurement | None = None

    # -- kernel path ----------------------------------------------------------------------
    def start_cell(self, argstring: str) -> None:
        if self.active is not None:  # a previous cell never reached post_run_cell (silent run)
            self.active.finish("ok", None)
            self.active = None
        self.active = self._begin(argstring)

    def _begin(self, argstring: str) -> CellMeasurement:
        """Parse the ``%%energy`` options and start measuring (both paths); bad input is a UsageError."""
        options = parse_argstring(self.energy, argstring)
        if options.subcommand:
            raise UsageError(f"unexpected argument(s) {' '.join(options.subcommand)!r}: %%energy takes only options")
        measurement = _with_usage_errors(CellMeasurement.from_args, self.shell, options)
        _with_usage_errors(measurement.start)
        return measurement

    def post_run_cell(self, result) -> None:
        measurement, self.active = self.active, None
        if measurement is None:
            return
        error = getattr(result, "error_in_exec", None)
        status = "ok" if error is None else ("interrupted" if isinstance(error, KeyboardInterrupt) else "error")
        measurement.finish(status, error)

    # -- the magic itself -----------------------------------------------------------------
    @magic_arguments()
    @argument("subcommand", nargs="*", help=(
        "line form only: sensors | history [-n N] | last | compare A B ... "
        "(ids or labels from the ledger)"))
    @argument("-i", "--interval", default="0.1", help="sampling interval in seconds (default 0.1)")
    @argument("-l", "--label", default=None, help="name stored with the measurement")
    @argument("--var", default=None, help="also store the EnergyReport in this variable")
    @argument("-q", "--quiet", action="store_true", help="show nothing; still measure and store")
    @argument("--no-plot", action="store_true", help="no live plot, summary only")
    @argument("--sensors", default=None, help="comma-separated: nvml,rapl,estimate (default: all readable)")
    @argument("--gpus", default=None, help="comma-separated visible GPU indices (default: all)")
    @argument("--region", default=None, help="carbon-intensity region: ISO code (FR, FRA), WORLD, or gCO2e/kWh")
    @argument("--pue", default=None, help="power usage effectiveness of the facility, >= 1.0 (default 1.0)")
    @argument("--baseline", default="0", help="measure idle power for this many seconds first; report net energy too")
    @argument("-n", "--limit", default="20", help="rows for `%%energy history` (default 20)")
    @line_cell_magic
    def energy(self, line: str = "", cell: str | None = None):
        """Measure the energy of a cell: ``%%energy [options]`` on its first line.

        The cell runs exactly as without the magic; a background sampler reads GPU energy (NVML)
        and CPU package/DRAM energy (RAPL), or falls back to a clearly labelled estimate. A live
        plot shows watts while the cell runs; a summary (joules, Wh, watts, duration, CO2e)
        follows, and every measurement is stored in the ledger (``lepton_lab.history()``).

        Line form: ``%energy sensors`` (what can be read, and why not), ``%energy history``,
        ``%energy last``, ``%energy compare A B ...``.
        """
        if cell is None:
            return self._line(line)
        measurement = self._begin(line)
        status, error = "ok", None
        try:
            return run_body(self.shell, cell)
        except KeyboardInterrupt as exc:
            status, error = "interrupted", exc
            raise
        except BaseException as exc:
            status, error = "error", exc
            raise
        finally:
            measurement.finish(status, error)

    def _line(self, line: str):
        from . import line_commands

        options = parse_argstring(self.energy, line)
        words = options.subcommand or ["help"]
        command, rest = words[0], words[1:]
        if command not in SUBCOMMANDS:
            raise UsageError(
                f"unknown %energy subcommand '{command}': use one of {', '.join(SUBCOMMANDS)} "
                "(or %%energy on the first line of a cell)"
            )
        return _with_usage_errors(line_commands.run, command, rest, options, self.shell)


_magics: EnergyMagics | None = None


def start_cell(argstring: str) -> None:
    """Called by the transformed first line of a ``%%energy`` cell."""
    if _magics is None:
        raise UsageError("lepton_lab is not loaded: run %load_ext lepton_lab")
    _magics.start_cell(argstring)


def load(shell) -> None:
    global _magics
    if _magics is not None and _magics.shell is shell:
        return  # %load_ext twice, or %reload_ext: keep one transformer and one handler
    _magics = EnergyMagics(shell)
    shell.register_magics(_magics)
    cleanup = shell.input_transformers_cleanup
    if energy_cell_transformer not in cleanup:
        cleanup.insert(0, energy_cell_transformer)
    shell.events.register("post_run_cell", _magics.post_run_cell)


def unload(shell) -> None:
    global _magics
    if energy_cell_transformer in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(energy_cell_transformer)
    if _magics is not None:
        try:
            shell.events.unregister("post_run_cell", _magics.post_run_cell)
        except ValueError:
            pass
        if _magics.active is not None:
            _magics.active.finish("ok", None)
    _magics = None
