"""What ``%%energy`` does around a cell: start, show live, finish, report — never raising over the cell."""
from __future__ import annotations

import ast
import sys

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
        self.view = None
        self.clears: ClearOutputWatch | None = None
        self._finished = False

    @classmethod
    def from_args(cls, shell, args) -> CellMeasurement:
        var = validate_variable_name(args.var) if args.var is not None else None
        measurement = measurement_for(MeasureOptions.from_namespace(args))
        return cls(shell, measurement, quiet=args.quiet, plot=not args.no_plot, var=var)

    def start(self) -> None:
        """Start measuring (and the live view). On any failure, nothing is left running."""
        global _announced_fallback
        m = self.measurement
        frontend = self.plot and _has_widget_frontend(self.shell)
        if m.options.baseline_s and not self.quiet:
            _say(f"measuring idle power for {m.options.baseline_s:g} s before the cell (--baseline)")
        if frontend:
            try:  # import before measuring: loading bqplot (~0.5 s of CPU) is not the cell's work
                import lepton_lab.widgets.live  # noqa: F401
            except ImportError:
                pass  # _start_live_view says why
        m.start()
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
            if frontend:
                self._start_live_view()
        except BaseException:  # Ctrl-C here, say: stop the sampler and record nothing
            m.discard()
            self._close_view()
            raise

    def _start_live_view(self) -> None:
        try:
            from .widgets.live import LivePowerView

            self.view = LivePowerView.for_measurement(self.measurement)
        except ImportError as exc:
            _say(f"no live plot ({exc}): pip install 'lepton_lab[lab]'; the summary follows the cell")
            return
        self.view.display(metadata=OUTPUT_METADATA)
        self.clears = ClearOutputWatch(self.shell, on_clear=self.view.redisplay)
        self.measurement.subscribe(self.view.on_sample)

    def _close_view(self) -> None:
        if self.clears is not None:
            self.clears.close()
        if self.view is not None:
            self.view.close()

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
            _say(f"the measurement failed and was not recorded ({type(exc).__name__}: {exc})")
            return
        for warning in self.measurement.warnings:
            _say(warning)
        if self.var:
            self.shell.user_ns[self.var] = report
        try:
            self._show(report)
        except Exception as exc:
            _say(f"could not draw the report ({type(exc).__name__}: {exc}); it is in lepton_lab.last_report()")

    def _show(self, report) -> None:
        if self.view is not None:
            self.view.finish(report)
            return
        if self.quiet:
            return
        from IPython.display import display

        display(report, metadata=OUTPUT_METADATA)


class ClearOutputWatch:
    """Sees the ``clear_output`` calls made while a cell is measured, and calls ``on_clear`` after each.

    ``IPython.display.clear_output`` goes through ``shell.display_pub.clear_output``; wrapping it
    on the instance is the one place that sees the cell clear its own output area (and with it
    the live view, which ``on_clear`` shows again).
    """

    def __init__(self, shell, on_clear=None):
        self.count = 0
        self._on_clear = on_clear
        self._publisher = getattr(shell, "display_pub", None)
        original = getattr(self._publisher, "clear_output", None)
        if original is None:
            self._publisher = None
            return
        watch = self

        def clear_output(wait: bool = False):
            result = original(wait)
            if watch._publisher is not None:
                watch.count += 1
                if watch._on_clear is not None:
                    try:
                        watch._on_clear()
                    except Exception:  # the live view is a nicety: the cell's own clear must go on
                        pass
            return result

        self._wrapper = clear_output
        self._original = original
        self._publisher.clear_output = clear_output

    def close(self) -> None:
        """Stop counting; unwrap when ours is the outermost wrapper (nested cells unwrap in turn)."""
        publisher, self._publisher = self._publisher, None
        if publisher is not None and publisher.__dict__.get("clear_output") is self._wrapper:
            if getattr(self._original, "__self__", None) is publisher:
                del publisher.clear_output  # the class's own method again
            else:
                publisher.clear_output = self._original


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
