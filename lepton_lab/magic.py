"""``%%energy`` and ``%energy``: the IPython presenter.

Two paths run a measured cell:

* **Cell path** (a notebook, terminal IPython): :mod:`lepton_lab.cell_hooks` removes the
  ``%%energy`` line before IPython looks at the cell, starts measuring in ``pre_run_cell`` and
  stops in ``post_run_cell``; the body runs exactly as it would without the magic.
* **Classic path**: ``run_cell_magic('energy', ...)``, which IPython itself calls where the line
  stays (``%%time`` above ``%%energy``, a silent run, a script): the body runs inside
  try/finally. It cannot support top-level ``await``. ``%%energy --repeat`` always takes it: the
  body runs several times (:func:`lepton_lab.repetition.repeat_cell`).
"""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import live_start, stacks
from .cell_hooks import REPEAT_FLAG, CellHooks
from .cell_runner import CellMeasurement, run_body
from .errors import LeptonError
from .options import add_to_parser
from .prewarming import prewarm

SUBCOMMANDS = ("sensors", "history", "last", "compare", "help")


def _with_usage_errors(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except LeptonError as exc:
        raise UsageError(str(exc)) from None


def _measure_options(func):
    """The options every presenter shares, from the one table (lepton_lab.options)."""
    declared = []
    add_to_parser(lambda *flags, **kwargs: declared.append(argument(*flags, **kwargs)))
    for decorate in reversed(declared):  # IPython lists arguments in decoration order, reversed
        func = decorate(func)
    return func


@magics_class
class EnergyMagics(Magics):
    def __init__(self, shell):
        super().__init__(shell)
        self.hooks = CellHooks(shell, self._begin)

    def _begin(self, argstring: str) -> CellMeasurement:
        """Parse the ``%%energy`` options and start measuring (both paths); bad input is a UsageError."""
        try:
            options = parse_argstring(self.energy, argstring)
        except ValueError as exc:  # the shell-like split of the line: an unclosed quote
            raise UsageError(f"cannot read the %%energy options ({exc}): close the quote, e.g. -l 'my label'") from None
        if options.subcommand:
            raise UsageError(f"unexpected argument(s) {' '.join(options.subcommand)!r}: %%energy takes only options")
        measurement = _with_usage_errors(CellMeasurement.from_args, self.shell, options)
        _with_usage_errors(measurement.start)
        return measurement

    # -- the magic itself -----------------------------------------------------------------
    @magic_arguments()
    @argument("subcommand", nargs="*", help=(
        "line form only: sensors | history [-n N] | last | compare A B ... "
        "(ids or labels from the ledger)"))
    @_measure_options
    @argument("--var", default=None, help="also store the EnergyReport in this variable")
    @argument("-q", "--quiet", action="store_true", help="show nothing; still measure and store")
    @argument("--no-plot", action="store_true", help="no live plot, summary only")
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
        if REPEAT_FLAG.search(line):  # the body runs several times: repeat.repeat_cell runs it
            from .repetition import repeat_cell

            return _with_usage_errors(repeat_cell, self.shell, parse_argstring(self.energy, line), cell)
        measurement = self._begin(line)
        error = None
        try:
            return run_body(self.shell, cell)
        except BaseException as exc:
            error = exc
            raise
        finally:
            measurement.finish(error)

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


def take_start_failure() -> BaseException:
    """What the cell path's gate raises in place of a body whose measurement could not start."""
    if _magics is None:
        return UsageError("lepton_lab is not loaded: run %load_ext lepton_lab")
    return _magics.hooks.take_failure()


def load(shell) -> None:
    global _magics
    stacks.check()  # one line for an IPython or ipykernel outside the tested range
    if _magics is not None and _magics.shell is shell:
        return  # %load_ext twice, or %reload_ext: keep one set of hooks
    if _magics is not None:
        unload(_magics.shell)
    _magics = EnergyMagics(shell)
    shell.register_magics(_magics)
    _magics.hooks.install()
    warming = prewarm(background=True)
    if warming is not None:  # LEPTON_LAB_PREWARM=0 turns both off
        display = live_start.prewarm(after=warming)
        if stacks.imports_reorder_output():
            display.join()  # imports running beside the first cells would reorder their output here


def unload(shell) -> None:
    global _magics
    if _magics is not None:
        _magics.hooks.uninstall()
    _magics = None
