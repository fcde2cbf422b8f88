"""Find and kill what a dead engine left running.

Every build, check and bench process the engine starts carries the run
directory in its environment (`PERFSUP_RUN_DIR`). Children inherit it, even
those that start their own session and lose their parent, so after a crash
(kill -9 of the engine) a new engine finds all of them, and only them, by
that mark: process ids and groups may have been reused since, a mark may not.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

RUN_DIR_MARKER = "PERFSUP_RUN_DIR"


def marked_processes(root: Path) -> list[psutil.Process]:
    """Live processes of this user started for the run directory `root`."""
    me = os.getpid()
    mark = str(root)
    found = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(RUN_DIR_MARKER) == mark and proc.status() != "zombie":
                found.append(proc)
        except (psutil.Error, OSError):
            continue  # gone, or another user's process: not ours
    return found


def kill_orphans(root: Path, timeout_s: float = 3.0) -> list[int]:
    """SIGKILL every process marked for `root`; the pids that were killed."""
    victims = marked_processes(root)
    for proc in victims:
        try:
            proc.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(victims, timeout=timeout_s)
    return sorted(p.pid for p in victims)
