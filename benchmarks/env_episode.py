"""A scripted episode of the perfsup environment on the Go demo, through the real
server (`perfsup env serve`, a child process) and OpenEnv's WebSocket client.

Acceptance of issue 19: the no-op patch (a rename) earns a reward within the
decision rule's threshold of zero, the demo's allocation fix a positive one,
and every step that runs no benchmark costs under 200 ms beyond the commands
it runs (round trip through the client minus the commands' own time).

    PYTHONPATH=. python benchmarks/env_episode.py
"""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from perfsup.demo import GO_TARGET, prepare_demo
from perfsup.env.client import PerfEnvClient
from perfsup.env.models import PerfAction

ANSWERS = [a["text"] for a in tomllib.loads((GO_TARGET / "answers.toml").read_text())["answer"]]
# Steps that run no benchmark: their overhead is what the environment adds.
LIGHT = [
    PerfAction(kind="git", args=["status", "--short"]),
    PerfAction(kind="git", args=["log", "--oneline", "-1"]),
    PerfAction(kind="tests"),
    PerfAction(kind="escape_analysis"),
    PerfAction(kind="git", args=["diff"]),
    PerfAction(kind="build_flags", flags={"gcflags": "-N -l"}),  # refused: no spaces in GOFLAGS
]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="perfsup-env-episode-") as tmp:
        base = Path(tmp)
        repo = prepare_demo(base / "demo", go=True)
        tasks = base / "tasks.toml"
        tasks.write_text(f'[[task]]\nname = "go-demo"\nrepo = "{repo}"\nmax_steps = 40\n')
        where = ["--port", "0", "--workdir", str(base / "work")]
        server = subprocess.Popen(
            [sys.executable, "-m", "perfsup", "env", "serve", "--tasks", str(tasks), *where],
            stdout=subprocess.PIPE,
            # OpenEnv's server logs a client's normal close as an error: kept out of sight
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            found = re.search(r"on (http://\S+)", server.stdout.readline())
            if found is None:
                print("env_episode: the server did not start", file=sys.stderr)
                return 1
            return episode(found[1])
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)


def episode(url: str) -> int:
    overheads: list[float] = []
    with PerfEnvClient(url).sync() as env:
        env.reset(task="go-demo", seed=7)
        steps = 0
        for _ in range(3):
            for action in LIGHT:
                started = time.perf_counter()
                result = env.step(action)
                took = time.perf_counter() - started
                steps += 1
                overheads.append((took - result.observation.command_s) * 1000)
                print(f"{action.kind:16} {took * 1000:8.1f} ms  {result.observation.message[:70]}")
        bench = env.step(PerfAction(kind="benchmarks", benchtime="50ms", count=3))
        print(bench.observation.comparison)
        noop = env.step(PerfAction(kind="patch", patch=ANSWERS[0]))
        print(f"no-op patch: {noop.observation.message}")
        fix = env.step(PerfAction(kind="patch", patch=ANSWERS[1]))
        print(f"fix: {fix.observation.message}")
        steps += 3
    reward_noop = float(noop.reward or 0.0)
    reward_fix = float(fix.reward or 0.0)
    overhead = statistics.mean(overheads)
    print(
        f"overhead per light step: mean {overhead:.1f} ms, median "
        f"{statistics.median(overheads):.1f} ms, max {max(overheads):.1f} ms ({len(overheads)})"
    )
    print(
        f"env_episode: steps={steps} reward_noop={reward_noop:.4f} reward_fix={reward_fix:.4f} "
        f"step_overhead_ms={overhead:.1f}"
    )
    return 0 if abs(reward_noop) <= 0.02 and reward_fix > 0 and overhead < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
