"""The host fingerprint stored with every sample, and the quiet-host checks.

CPU model, core count, scaling governor (where Linux exposes it), load average
and AC/battery, read with psutil and /proc, /sys. Samples taken under
different fingerprints can be told apart later (another machine, a governor
change, a laptop on battery).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Fingerprint:
    cpu_model: str
    cpu_count: int | None
    governor: str | None
    load_avg: float | None
    on_battery: bool | None  # None: the machine has no battery

    def load_per_core(self) -> float | None:
        if self.load_avg is None or not self.cpu_count:
            return None
        return self.load_avg / self.cpu_count


@cache
def cpu_model() -> str:
    """The CPU's model name ('' when unknown)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def governor() -> str | None:
    """The cpufreq scaling governor of cpu0, where readable (not in most containers)."""
    path = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def fingerprint() -> Fingerprint:
    """The host as it is now."""
    try:
        load: float | None = psutil.getloadavg()[0]
    except (OSError, AttributeError):
        load = None
    battery = None
    try:
        sensors = psutil.sensors_battery()
        if sensors is not None:
            battery = not sensors.power_plugged
    except (OSError, AttributeError, NotImplementedError):
        battery = None
    return Fingerprint(cpu_model(), psutil.cpu_count(logical=True), governor(), load, battery)


def busy_reason(fp: Fingerprint, max_load_per_core: float, wait_on_battery: bool) -> str | None:
    """Why benchmarks should wait now, or None when the host is quiet enough."""
    if wait_on_battery and fp.on_battery:
        return "the machine runs on battery"
    per_core = fp.load_per_core()
    if max_load_per_core > 0 and per_core is not None and per_core > max_load_per_core:
        return (
            f"load average {fp.load_avg:.2f} on {fp.cpu_count} cores is above "
            f"max_load_per_core = {max_load_per_core:g}"
        )
    return None
