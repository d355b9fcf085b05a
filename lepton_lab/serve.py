"""Publish the what-if apps with Voila: ``lepton-lab serve [APP] [--port N] [--ip ADDR]``.

Voila renders each notebook as a page of widgets. The flags below are what makes that safe to
show strangers: sources stripped from the page (``--strip_sources=True``), no tracebacks, and
Voila's own rule that a visitor's browser may only send widget (comm) messages to the kernel,
never ``execute_request``; so nobody can run code through the page. Widget values can still be
forged, which is why every panel callback clamps its inputs (:mod:`lepton_lab.widgets.panels`).

By default the server listens on 127.0.0.1 only; pass ``--ip 0.0.0.0`` to publish on a network
(then the apps hide this machine's ledger unless ``LEPTON_LAB_APPS_LEDGER=on``).

The pages load nothing from other hosts: Voila's lab template links Font Awesome from a CDN, so
the apps are rendered with ``--template=lepton_lab`` (``lepton_lab/data/jupyter/voila/templates``,
found through ``JUPYTER_PATH``): the lab template without those links. The apps use no icons.
Equivalent command: ``JUPYTER_PATH=<lepton_lab>/data/jupyter voila widgets/ --template=lepton_lab
--strip_sources=True --no-browser --Voila.ip=127.0.0.1``.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import InvalidInput, LeptonError, require

APPS = ("datacenter", "lifecycle", "carbon_aware", "leaderboard")
DESCRIPTION = "Publish the what-if apps with Voila (sources stripped, localhost only unless --ip says otherwise)."
DEFAULT_PORT = 8866  # Voila's own default
#: The Voila template the apps are served with (the lab one, loading nothing from other hosts).
TEMPLATE = "lepton_lab"


def apps_dir() -> Path:
    """Where the app notebooks are: packaged next to the code, else the source tree's ``widgets/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "apps", here.parent / "widgets"):
        if (candidate / f"{APPS[0]}.ipynb").is_file():
            return candidate
    raise LeptonError(
        f"the app notebooks were not found in {here / 'apps'} or {here.parent / 'widgets'}: "
        "run from a clone of lepton_lab, or reinstall it"
    )


def _free(port: int, ip: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def pick_port(port: int | None, ip: str = "127.0.0.1") -> int:
    """``port`` checked (1024-65535), or Voila's default if free, else any free port."""
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
            raise InvalidInput(f"port must be a whole number from 1024 to 65535, got {port!r}")
        return port
    if _free(DEFAULT_PORT, ip):
        return DEFAULT_PORT
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def voila_argv(app: str | None, port: int, ip: str = "127.0.0.1", open_browser: bool = False) -> list[str]:
    """The Voila command line for one app (served at ``/``) or all of them (a listing at ``/``)."""
    folder = apps_dir()
    if app is not None and app.removesuffix(".ipynb") not in APPS:
        raise InvalidInput(f"unknown app {app!r}: choose one of {', '.join(APPS)}")
    target = folder / f"{app.removesuffix('.ipynb')}.ipynb" if app else folder
    argv = [sys.executable, "-m", "voila", str(target), f"--port={port}", f"--Voila.ip={ip}",
            "--Voila.port_retries=0", "--strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
            f"--template={TEMPLATE}"]
    if not open_browser:
        argv.append("--no-browser")
    return argv


def template_root() -> Path:
    """The Jupyter data folder holding the ``lepton_lab`` Voila template."""
    return Path(__file__).resolve().parent / "data" / "jupyter"


def serve_env(ip: str = "127.0.0.1", base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment Voila runs in: the template found, the ledger hidden off localhost."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(template_root()), env.get("JUPYTER_PATH", "")) if p)
    if ip not in ("127.0.0.1", "localhost", "::1"):
        # Visitors from the network must not browse this machine's measurements.
        env.setdefault("LEPTON_LAB_APPS_LEDGER", "off")
    return env


def urls(app: str | None, port: int, ip: str = "127.0.0.1") -> list[str]:
    host = "127.0.0.1" if ip in ("0.0.0.0", "") else ip
    base = f"http://{host}:{port}/"
    if app:
        return [base]
    return [f"{base}voila/render/{name}.ipynb" for name in APPS]


def serve(app: str | None = None, port: int | None = None, open_browser: bool = False,
          ip: str = "127.0.0.1") -> int:
    """Run Voila on the apps until interrupted; returns Voila's exit code."""
    require("voila", "voila", "lepton-lab serve")
    port = pick_port(port, ip)
    argv = voila_argv(app, port, ip, open_browser)
    env = serve_env(ip)
    print("lepton_lab what-if apps (sources stripped; Ctrl-C to stop):", flush=True)
    for url in urls(app, port, ip):
        print(f"  {url}", flush=True)
    if env.get("LEPTON_LAB_APPS_LEDGER") == "off":
        print("  (the ledger is hidden from visitors; LEPTON_LAB_APPS_LEDGER=on shows it)", flush=True)
    process = subprocess.Popen(argv, env=env)
    try:
        with _forward_sigterm(process):
            return process.wait()
    except KeyboardInterrupt:  # Voila got the same SIGINT and shuts down by itself
        return 0


@contextmanager
def _forward_sigterm(process: subprocess.Popen):
    """A ``kill PID`` (a supervisor's stop, ``systemctl stop``) of this process reaches Voila too:
    without it, Voila and its kernels go on serving, orphaned, after ``lepton-lab serve`` is gone
    (Ctrl-C needs nothing: the terminal sends SIGINT to both)."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers: main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``lepton-lab serve`` (and ``python -m lepton_lab.serve``)."""
    parser.add_argument("app", nargs="?", choices=APPS, help="one app (default: all, with a listing)")
    parser.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT} or a free one)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0 publishes it)")
    parser.add_argument("--open", action="store_true", help="open a browser")
    return parser


def run(args: argparse.Namespace) -> int:
    return serve(args.app, args.port, args.open, args.ip)


def main(argv: list[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="lepton-lab serve", description=DESCRIPTION))
    try:
        return run(parser.parse_args(argv))
    except LeptonError as exc:
        print(f"lepton-lab serve: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
