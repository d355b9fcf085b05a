"""A fake Linux powercap (RAPL) tree in a temporary folder.

It mimics the real layout: zone folders live under ``devices/virtual/powercap/intel-rapl`` and
the powercap root holds symlinks to them (subzones both nested in their package and linked at
the top). Tests advance each zone's energy by a known power profile; ``energy_uj`` wraps at
``max_energy_range_uj`` exactly as the kernel counter does, while ``true_j`` keeps the unwrapped
truth to compare against.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: What real Intel packages report (about 262 kJ).
DEFAULT_RANGE_UJ = 262_143_328_850


@dataclass
class FakeZone:
    path: Path
    name: str
    range_uj: int
    raw_uj: int = 0
    true_uj: int = 0

    @property
    def true_j(self) -> float:
        return self.true_uj / 1e6

    def add_joules(self, joules: float) -> None:
        delta = int(round(joules * 1e6))
        self.true_uj += delta
        self.raw_uj = (self.raw_uj + delta) % self.range_uj
        self._write()

    def set_raw(self, raw_uj: int) -> None:
        self.raw_uj = raw_uj
        self._write()

    def _write(self) -> None:
        # Written aside and renamed: a reader in another process never sees a half-written
        # number (reading the real sysfs file is atomic too).
        aside = self.path / ".energy_uj.new"
        aside.write_text(f"{self.raw_uj}\n")
        os.replace(aside, self.path / "energy_uj")


class FakePowercap:
    """Build zones with ``add_*`` and drive them with ``run(profile, duration_s, step_s)``."""

    def __init__(self, tmp_path: Path, link_subzones: bool = True):
        self.root = tmp_path / "powercap"
        self.devices = tmp_path / "devices" / "virtual" / "powercap"
        self.root.mkdir(parents=True)
        (self.devices / "intel-rapl").mkdir(parents=True)
        (self.devices / "intel-rapl" / "enabled").write_text("1\n")
        # The control-type folder is linked at the top as well, and must be ignored.
        (self.root / "intel-rapl").symlink_to(self.devices / "intel-rapl")
        self.link_subzones = link_subzones
        self.zones: dict[str, FakeZone] = {}
        self.t_s = 0.0

    # -- building ---------------------------------------------------------------------------
    def add_package(self, index: int, range_uj: int = DEFAULT_RANGE_UJ, name: str | None = None) -> FakeZone:
        return self._add("intel-rapl", f"intel-rapl:{index}", name or f"package-{index}", range_uj)

    def add_subzone(self, package: int, index: int, name: str, range_uj: int = DEFAULT_RANGE_UJ) -> FakeZone:
        parent = f"intel-rapl:{package}"
        return self._add(f"intel-rapl/{parent}", f"{parent}:{index}", name, range_uj)

    def add_psys(self, index: int, range_uj: int = DEFAULT_RANGE_UJ) -> FakeZone:
        return self.add_package(index, range_uj, name="psys")

    def add_mmio(self, index: int = 0, range_uj: int = DEFAULT_RANGE_UJ) -> FakeZone:
        """The MMIO interface's copy of package ``index`` (a separate counter of the same energy)."""
        (self.devices / "intel-rapl-mmio").mkdir(exist_ok=True)
        if not (self.root / "intel-rapl-mmio").exists():
            (self.root / "intel-rapl-mmio").symlink_to(self.devices / "intel-rapl-mmio")
        return self._add("intel-rapl-mmio", f"intel-rapl-mmio:{index}", f"package-{index}", range_uj)

    def _add(self, parent: str, dirname: str, name: str, range_uj: int) -> FakeZone:
        path = self.devices / parent / dirname
        path.mkdir(parents=True)
        (path / "name").write_text(f"{name}\n")
        (path / "max_energy_range_uj").write_text(f"{range_uj}\n")
        # Real zone folders also hold links that are not zones; the sensor must skip them.
        (path / "subsystem").symlink_to(self.root)
        if parent == "intel-rapl" or parent == "intel-rapl-mmio" or self.link_subzones:
            (self.root / dirname).symlink_to(path)
        zone = self.zones[dirname] = FakeZone(path=path, name=name, range_uj=range_uj)
        zone.set_raw(0)
        return zone

    # -- driving ----------------------------------------------------------------------------
    def run(
        self,
        profile: Callable[[float], Mapping[str, float]],
        duration_s: float,
        step_s: float,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        """Advance fake time by ``duration_s`` in steps; ``profile(t)`` gives watts per zone folder.

        Energy per step is power at the step's midpoint times the step, so linear profiles are
        integrated exactly. ``on_step`` runs after each step (a test reads the sensor there).
        """
        steps = int(round(duration_s / step_s))
        for _ in range(steps):
            for dirname, watts in profile(self.t_s + step_s / 2).items():
                self.zones[dirname].add_joules(watts * step_s)
            self.t_s += step_s
            if on_step is not None:
                on_step()

    def deny_read(self, monkeypatch, dirname: str) -> None:
        """Make a zone's energy_uj unreadable, as on Linux >= 5.10 for non-root users.

        chmod 000 does not stop root (and tests may run as root), so then ``open`` is patched to
        raise PermissionError for that one file, which is what the kernel's check produces.
        """
        target = self.zones[dirname].path / "energy_uj"
        if os.geteuid() != 0:
            target.chmod(0)
            return
        import builtins

        real_open = builtins.open

        def guarded_open(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and os.path.realpath(file) == os.path.realpath(target):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
