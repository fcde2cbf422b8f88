"""Layout-aware benchmarking for compiled targets (bench.layout).

Two builds of the same code are not equally fast: where functions and the
stack land in memory moves a compiled benchmark by a percent or so, and a
code change moves it again for reasons unrelated to the change. Measured on
one build per side, that offset is inside every pair alike, so the paired
test cannot see it: the issue 15 simulation kept 2.4-5% of A/A changes with
a 1% layout offset per build.

The cure is to make the layout random per run, so it becomes part of the
paired noise the rule already handles (Mytkowicz et al., "Producing wrong
data without doing anything obviously wrong", ASPLOS 2009; Curtsinger and
Berger, "Stabilizer", ASPLOS 2013):

- "rebuild": the build command runs again before every benchmark run, with a
  fresh `PERFSUP_LAYOUT_SEED` in its environment; a build that randomises
  with it (link order, function alignment, padding) gives every run its own
  layout. The A/A calibration then compares independent builds of the
  parent, and a winner's re-verification runs on fresh builds of both sides.
  Costs one build per run, so it is for targets whose build is quick or
  cached (a relink).
- "env-pad": no rebuild; every run gets an environment variable of random
  length (`PERFSUP_LAYOUT_PAD`, 0-4095 bytes), which shifts the initial stack
  and with it the stack alignment, the cheapest layout randomisation there is.
- "none" (default): as before; for interpreted targets layout costs nothing.

The wrapping is a prefix to the benchmark's shell command, so it runs in the
same sandbox; the build's own output goes to stderr, away from metric lines.
"""

from __future__ import annotations

from perfsup.config import BenchSettings, CommandSpec

_SEED = "$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
_PAD = "$(head -c $(( $(od -An -N2 -tu2 /dev/urandom) % 4096 )) /dev/zero | tr '\\0' x)"


def layout_bench(bench: BenchSettings, build: CommandSpec | None) -> BenchSettings:
    """`bench` with its command wrapped for the configured layout randomisation."""
    if bench.layout == "none":
        return bench
    if bench.layout == "env-pad":
        run = f'export PERFSUP_LAYOUT_PAD="{_PAD}"; {bench.run}'
        return bench.model_copy(update={"run": run})
    if build is None:
        return bench  # the config validation asks for a build; nothing to rebuild
    run = f"export PERFSUP_LAYOUT_SEED={_SEED}; {{ {build.run}\n}} 1>&2 && {bench.run}"
    timeout = bench.timeout_s + build.timeout_s
    return bench.model_copy(update={"run": run, "timeout_s": timeout})
