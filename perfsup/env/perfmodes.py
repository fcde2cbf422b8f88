"""The `perf` action: hardware counters where the machine has them, callgrind
where it does not.

`perf stat` counts the benchmark (task-clock, cycles, instructions, cache
and branch misses); `perf mem` and `perf c2c` record memory accesses and
cache-line sharing, which need the CPU's sampling support. On a machine (or a
VM) without hardware counters the observation says so in one line, and the
benchmark is counted under callgrind instead (instructions, and for mem and
c2c the simulated cache misses): slower, but exact and available anywhere.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.callgrind import parse_callgrind
from perfsup.metrics.parsers.perfstat import parse_perf_stat

if TYPE_CHECKING:
    from perfsup.env.episode import Episode, Ran

__all__ = ["NO_COUNTERS", "PerfView", "run_perf"]

NO_COUNTERS = "hardware counters not available on this machine"
HARDWARE_EVENTS = ("cycles", "instructions", "cache-misses", "branch-misses")
_STAT_FILE = ".perfsup-perf-stat.txt"
_RECORD_FILE = ".perfsup-perf.data"
_CALLGRIND_FILE = ".perfsup-callgrind.out"


@dataclass
class PerfView:
    """What one `perf` action saw; `artifacts` names the files it left."""

    ran: Ran
    summary: str
    artifacts: dict[str, str] = field(default_factory=dict)


def run_perf(episode: Episode, mode: str, timeout_s: float) -> PerfView:
    """Count (or record) the task's benchmark in the agent's (built) tree."""
    bench = episode.config.bench.run
    timeout = min(timeout_s, episode.config.bench.timeout_s * 20)
    env = episode.build_env(episode.flags)
    if mode == "callgrind":
        return _callgrind(episode, bench, timeout, "", cache=False)
    if mode == "stat":
        events = ",".join(("task-clock", *HARDWARE_EVENTS))
        command = f"perf stat -x, -e {events} -o {_STAT_FILE} -- /bin/sh -c {shlex.quote(bench)}"
        ran = episode.run("perf-stat", command, episode.tree, timeout, env)
        text, stat_path = _take(episode, _STAT_FILE)
        if not ran.ok and not text:
            return _callgrind(episode, bench, timeout, _why(ran, "perf stat"), cache=False)
        try:
            records, unsupported = parse_perf_stat(text)
        except MetricParseError as exc:
            return _callgrind(episode, bench, timeout, f"perf stat: {exc}", cache=False)
        counted = "\n".join(f"{r.name}: {r.values[-1]:.6g} {r.field}".rstrip() for r in records)
        # perf names an event `cycles:u` where only user space may be counted
        absent = {name.split(":")[0]: why for name, why in unsupported.items()}
        missing = [e for e in HARDWARE_EVENTS if e in absent]
        artifacts = {"perf_stat": stat_path}
        if not missing:
            return PerfView(ran, f"perf stat of the benchmark:\n{counted}", artifacts)
        why = f"{', '.join(missing)}: {absent[missing[0]]}"
        view = _callgrind(episode, bench, timeout, why, cache=False)
        view.summary = f"{view.summary}\nsoftware counters (perf stat):\n{counted}"
        view.artifacts.update(artifacts)
        return view
    # mem and c2c sample the CPU's memory events: nothing to fall back on but a simulation
    record = f"perf {mode} record -o {_RECORD_FILE} -- /bin/sh -c {shlex.quote(bench)}"
    ran = episode.run(f"perf-{mode}", record, episode.tree, timeout, env)
    if not ran.ok:
        _take(episode, _RECORD_FILE)
        return _callgrind(episode, bench, timeout, _why(ran, f"perf {mode}"), cache=True)
    report = episode.run(
        f"perf-{mode}-report",
        f"perf {mode} report --stdio -i {_RECORD_FILE} | head -60",
        episode.tree,
        timeout,
        env,
    )
    _, data_path = _take(episode, _RECORD_FILE)
    artifacts = {f"perf_{mode}": data_path}
    return PerfView(report, f"perf {mode} report (head):\n{report.stdout}", artifacts)


def _callgrind(episode: Episode, bench: str, timeout: float, why: str, cache: bool) -> PerfView:
    """The benchmark counted under callgrind; `why` says what was not available."""
    sim = " --cache-sim=yes" if cache else ""
    command = (
        f"valgrind --tool=callgrind{sim} --trace-children=yes "
        f"--callgrind-out-file={_CALLGRIND_FILE} /bin/sh -c {shlex.quote(bench)}"
    )
    head = f"{NO_COUNTERS} ({why}); callgrind counted instead" if why else "callgrind"
    ran = episode.run("callgrind", command, episode.tree, timeout, episode.build_env(episode.flags))
    text, out_path = _take(episode, _CALLGRIND_FILE)
    try:
        records = parse_callgrind(text)
    except MetricParseError as exc:
        return PerfView(ran, f"{head}; callgrind failed too: {exc}")
    counts = "\n".join(f"{r.name}: {r.values[0]:.0f}" for r in records)
    artifacts = {"callgrind": out_path}
    return PerfView(ran, f"{head}:\n{counts}", artifacts)


def _why(ran: Ran, what: str) -> str:
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    return f"{what}: {lines[-1].strip() if lines else f'exit {ran.result.exit_code}'}"


def _take(episode: Episode, name: str) -> tuple[str, str]:
    """Move a file a command left in the tree to the episode's logs: (text, new path).

    Artifacts stay out of the worktree, where they would count as a change.
    """
    source = episode.tree / name
    if not source.is_file() or source.is_symlink():
        source.unlink(missing_ok=True)
        return "", ""
    dest = episode.logs / f"{episode.commands:03d}-{name.lstrip('.')}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, dest)
    return dest.read_text(encoding="utf-8", errors="replace"), str(dest)
