"""``lepton-lab``: sensors | measure -- CMD | history | export | regions | serve."""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys

from .errors import LeptonError
from .options import add_to_parser


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, then exit 2, as argparse does, but with the next step
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lepton-lab", description="Measure what computation costs in joules.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.add_parser("sensors", help="which energy sensors can be read here, and why not")
    measure = commands.add_parser("measure", help="run a command and report its energy",
                                  usage="lepton-lab measure [options] -- CMD [ARGS...]")
    add_to_parser(measure.add_argument)
    measure.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    history = commands.add_parser("history", help="stored measurements, newest first")
    history.add_argument("--limit", "-n", type=int, default=20)
    history.add_argument("--csv", action="store_true", help="CSV on stdout")
    export = commands.add_parser("export", help="write one stored report as JSON (for the what-if apps)")
    export.add_argument("key", help="ledger id or label (the newest with that label)")
    export.add_argument("--output", "-o", default=None, help="file to write (default: stdout)")
    commands.add_parser("regions", help="carbon-intensity regions shipped with lepton_lab")
    from .serve import DESCRIPTION, add_arguments

    add_arguments(commands.add_parser("serve", help="publish the what-if apps with Voila", description=DESCRIPTION))
    return parser


def _cmd_sensors(args) -> int:
    from .api import sensor_summary

    print(sensor_summary())
    return 0


def _cmd_measure(args) -> int:
    from .measurement_choice import measurement_for
    from .options import MeasureOptions

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise LeptonError("measure needs a command: lepton-lab measure -- python train.py")
    if shutil.which(cmd[0]) is None:
        print(f"lepton-lab: command not found: {cmd[0]}", file=sys.stderr)
        return 127
    options = MeasureOptions.from_namespace(args, label=args.label or " ".join(cmd)[:80])
    if options.repeat is not None:
        return _measure_repeated(cmd, options)
    measurement = measurement_for(options, cached_sensors=False)
    if measurement.options.baseline_s:
        print(f"lepton-lab: measuring idle power for {measurement.options.baseline_s:g} s", file=sys.stderr)
    measurement.start()
    status, code = "ok", 0
    try:
        code = subprocess.call(cmd)
        status = "ok" if code == 0 else "error"
    except KeyboardInterrupt:
        status, code = "interrupted", 130
    finally:
        report = measurement.stop(status)
        for warning in measurement.warnings:
            print(f"lepton-lab: {warning}", file=sys.stderr)
        print(report, file=sys.stderr)
    return code


def _measure_repeated(cmd: list[str], options) -> int:
    """``--repeat``: the command is one run (lepton_lab.repeat); a failing run stops with its code."""
    from .repetition import run_trials

    def run() -> None:
        code = subprocess.call(cmd)
        if code:
            raise SystemExit(code)

    try:
        result = run_trials(run, options.repeat, options)
    except SystemExit as failed:
        print(f"lepton-lab: {cmd[0]} failed with code {failed.code}: repetition stopped", file=sys.stderr)
        return int(failed.code or 1)
    print(result, file=sys.stderr)
    return 0


def _cmd_history(args) -> int:
    from . import units
    from .ledger import HISTORY_COLUMNS, Ledger

    if args.limit < 1:
        raise LeptonError(f"--limit must be at least 1, got {args.limit}")
    rows = Ledger().rows(limit=args.limit)
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(HISTORY_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
        return 0
    if not rows:
        print("no measurements yet: try lepton-lab measure -- sleep 1")
        return 0
    print(f"{'id':>5}  {'started (UTC)':<19}  {'label':<28} {'energy':>10} {'duration':>10}  {'status':<11} kind")
    for r in rows:
        print(f"{r['id']:>5}  {r['started_at'][:19]:<19}  {r['label'][:28]:<28} "
              f"{units.format_energy(r['energy_j']):>10} {units.format_duration(r['duration_s']):>10}  "
              f"{r['status']:<11} {r['kind']}")
    return 0


def _cmd_export(args) -> int:
    import json

    from .ledger import Ledger

    report = Ledger().get(args.key)
    if args.output:
        print(f"wrote {report.save(args.output)}", file=sys.stderr)
    else:
        json.dump(report.to_dict(), sys.stdout)
        print()
    return 0


def _cmd_regions(args) -> int:
    from .carbon import regions

    for region in regions():
        print(f"{region.region:<6} {region.name:<32} {region.g_per_kwh:>6.0f} gCO2e/kWh  {region.year}")
    return 0


def _cmd_serve(args) -> int:
    from .serve import run

    return run(args)


COMMANDS = {"sensors": _cmd_sensors, "measure": _cmd_measure, "history": _cmd_history,
            "export": _cmd_export, "regions": _cmd_regions, "serve": _cmd_serve}


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except LeptonError as exc:
        print(f"lepton-lab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
