"""What ``%%energy`` does around a cell: start, show live, finish, report — never raising over the cell."""
from __future__ import annotations

import ast
import sys

from .cell_output import ClearOutputWatch, OutputSlot
from .live_start import LiveStarter, live_mode
from .measurement import Measurement
from .measurement_choice import measurement_for
from .options import MeasureOptions, validate_variable_name
from .report import status_for

_announced_fallback = False
#: Metadata on every output lepton_lab adds to a cell, so tools (and the corpus test) can tell
#: them from the cell's own outputs.
OUTPUT_METADATA = {"lepton_lab": {"output": "measurement"}}


def _has_widget_frontend(shell) -> bool:
    # ipykernel's shell has a kernel (and comms); terminal IPython and plain shells do not.
    return getattr(shell, "kernel", None) is not None


def _gist(reason: str) -> str:
    """The first clause of a sensor's reason ('NVML cannot start'); the full text is in `%energy sensors`."""
    return reason.split(" (")[0].split(":")[0].strip()


def _say(message: str) -> None:
    print(f"lepton_lab: {message}", file=sys.stderr, flush=True)


class CellMeasurement:
    def __init__(self, shell, measurement: Measurement, *, quiet: bool, plot: bool, var: str | None):
        self.shell = shell
        self.measurement = measurement
        self.quiet = quiet
        self.plot = plot and not quiet
        self.var = var
        self.slot: OutputSlot | None = None
        self.live: LiveStarter | None = None
        self.clears: ClearOutputWatch | None = None
        self._finished = False

    @property
    def view(self):
        """The live view, once the cell ran long enough to get one."""
        return self.live.view if self.live is not None else None

    @classmethod
    def from_args(cls, shell, args) -> CellMeasurement:
        var = validate_variable_name(args.var) if args.var is not None else None
        measurement = measurement_for(MeasureOptions.from_namespace(args))
        return cls(shell, measurement, quiet=args.quiet, plot=not args.no_plot, var=var)

    def start(self) -> None:
        """Start measuring (the live view comes later, from the sampler thread, if the cell runs
        long enough to draw). On any failure, nothing is left running."""
        global _announced_fallback
        m = self.measurement
        if m.options.baseline_s and not self.quiet:
            _say(f"measuring idle power for {m.options.baseline_s:g} s before the cell (--baseline)")
        if _has_widget_frontend(self.shell):
            self._watch_output()  # before measuring: it may wait for the widget libraries
        try:
            m.start()
        except BaseException:
            self._close_view()
            raise
        try:
            if m.fallback_reason and not _announced_fallback and not self.quiet:
                _announced_fallback = True
                if m.discovery is None:  # a cluster: some hosts have no sensor
                    _say(f"{m.fallback_reason}: their numbers are an ESTIMATE (`lepton-lab sensors` on a host "
                         "says how to enable one).")
                else:
                    missing = "; ".join(f"{name}: {_gist(why)}" for name, why in m.discovery.unavailable.items())
                    _say(f"no energy sensor can be read here ({missing}), so these numbers are an ESTIMATE. "
                         "`%energy sensors` says how to enable one.")
            if self.live is not None:
                m.subscribe(self.live.on_sample)
        except BaseException:  # Ctrl-C here, say: stop the sampler and record nothing
            m.discard()
            self._close_view()
            raise

    def _watch_output(self) -> None:
        """The cell's place for lepton_lab's output (nothing shown yet), and the live view's starter."""
        slot = OutputSlot(self.shell, OUTPUT_METADATA, silent=self.quiet)
        if not slot.usable:
            return
        self.slot = slot
        self.clears = ClearOutputWatch(self.shell, slot)
        if self.plot:
            mode = live_mode()
            if mode != "off":
                self.live = LiveStarter(self.measurement, slot, mode)

    def _close_view(self) -> None:
        if self.clears is not None:
            self.clears.close()
        if self.live is not None:
            self.live.close()
        if self.slot is not None:
            self.slot.finish(None)

    def finish(self, error: BaseException | None) -> None:
        """Stop, store and show. Never raises: the cell's own outcome must reach the user intact."""
        if self._finished:
            return
        self._finished = True
        # What the kernel does as a cell ends: stdout, then stderr. Without it, a cell that wrote to
        # both could see their flush timers fire during the work below, stderr's first.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        if self.clears is not None:
            self.clears.close()
        try:
            report = self.measurement.stop(status_for(error), error)
        except Exception as exc:  # a broken sensor must not hide the cell's exception
            self._close_view()
            _say(f"the measurement failed and was not recorded ({type(exc).__name__}: {exc})")
            return
        if self.var:
            self.shell.user_ns[self.var] = report
        try:
            self._show(report)
        except Exception as exc:
            self._close_view()
            _say(f"could not draw the report ({type(exc).__name__}: {exc}); it is in lepton_lab.last_report()")

    def _show(self, report) -> None:
        warnings = list(self.measurement.warnings)
        slot = self.slot
        if slot is None or not slot.pending:
            for warning in warnings:
                _say(warning)
            warnings = []
        # else a print now would apply the clear the cell left pending: the warnings go into our
        # display (with -q, into report.warnings only).
        if self.quiet:
            if slot is not None:
                slot.finish(None)
            return

        def deliver(bundle: dict) -> None:
            bundle = _with_warnings(bundle, warnings)
            if slot is not None:
                slot.finish(bundle)
            else:
                from IPython.display import display

                display(bundle, raw=True, metadata=OUTPUT_METADATA)

        if self.view is not None:
            self.view.finish(report, show=deliver)  # the widgets' final state, this, then closed
        else:
            deliver(self._final_bundle(report))

    def _final_bundle(self, report) -> dict:
        from .widgets import static

        if not self.plot:
            return static.summary_bundle(report)
        domains = self.measurement.live_description()[0]
        from .widgets.live import LiveView

        title = LiveView._title(report.label, report.kind, report.replayed_from)
        return static.final_bundle(report, domains, title=title)


def _with_warnings(bundle: dict, warnings: list[str]) -> dict:
    """The bundle with lepton_lab's warnings above it (they cannot be printed: see _show)."""
    if not warnings:
        return bundle
    import html

    lines = [f"lepton_lab: {w}" for w in warnings]
    bundle = dict(bundle)
    bundle["text/plain"] = "\n".join([*lines, bundle.get("text/plain", "")]).rstrip()
    if "text/html" in bundle:
        notes = "".join(f"<div style='color:#b71c1c'>{html.escape(line)}</div>" for line in lines)
        bundle["text/html"] = notes + bundle["text/html"]
    return bundle


def run_body(shell, cell: str):
    """Run a cell body in the user namespace; return the value of a trailing expression."""
    source = shell.transform_cell(cell)
    tree = ast.parse(source)
    filename = shell.compile.cache(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), shell.user_ns)
    if last is not None:
        return eval(compile(last, filename, "eval"), shell.user_ns)
    return None
