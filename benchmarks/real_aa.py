"""A real A/A on this machine: the demo target against itself, N decisions.

Run: `python benchmarks/real_aa.py [--decisions 20] [--seed 1]`

Two separate copies of the bundled demo target (the same code: a "parent"
and a "candidate" that changes nothing) are benchmarked against each other by
the engine's own measurement code (`perfsup.engine.measure.Measurer`), with
the demo's [bench] and [decision] settings: an A/A calibration first, then
N decisions with the sequential rule and re-verification of any winner.
Every decision that keeps the candidate is a false keep; the goal is none.
Samples go to a throw-away store in a temporary folder.

Last line: `real_aa: decisions=N kept=K threshold=T% mean_pairs=P`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perfsup.config import load_config
from perfsup.engine.clock import SystemClock
from perfsup.engine.host import fingerprint
from perfsup.engine.measure import Measurer
from perfsup.store import Node, Run, open_store
from perfsup.workspace.command_env import command_env
from perfsup.workspace.executor import LocalExecutor

TARGET = Path(__file__).resolve().parent.parent / "perfsup" / "demo" / "target"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="perfsup-real-aa-"))
    try:
        run(base, args.decisions, args.seed)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path, decisions: int, seed: int) -> None:
    dirs = {}
    for side in ("parent", "candidate"):
        dirs[side] = base / side
        shutil.copytree(TARGET, dirs[side], ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["git", "init", "-q", str(dirs[side])], check=True)  # config wants a repo
    config = load_config(dirs["parent"] / "perfsup.toml")
    store = open_store(base / "store.sqlite")
    with store.session() as s:
        s.add(
            Run(
                id=1,
                goal="A/A",
                config_toml="",
                repo_path=str(dirs["parent"]),
                baseline_commit="-",
                root_node_id="1",
            )
        )
    with store.session() as s:
        s.add(Node(id="1", run_id=1))
    with store.session() as s:
        for k in range(1, decisions + 1):
            s.add(Node(id=f"1.{k}", run_id=1, parent_id="1", ordinal=k, depth=1))
    measure = Measurer(
        config=config,
        store=store,
        executor=LocalExecutor(),
        env=command_env(base / "bin"),
        rng=random.Random(seed),
        clock=SystemClock(),
        report=lambda _line: None,
        host="local",
    )
    fp = fingerprint()
    print(f"host: {fp.cpu_model}, {fp.cpu_count} cores, load {fp.load_avg}")
    started = time.perf_counter()
    with store.session() as s:
        root = s.get(Node, "1")
    assert root is not None
    measure.calibrate(1, root, dirs["parent"], base / "calibrate.log")
    threshold = measure.thresholds[config.primary_metric.name]
    print(f"calibration: threshold {threshold:.1%} (min_effect {config.decision.min_effect:.0%})")
    kept = 0
    pairs = 0
    for k in range(1, decisions + 1):
        with store.session() as s:
            node = s.get(Node, f"1.{k}")
        assert node is not None
        judgement = measure.judge(1, node, dirs, base / f"bench-{k}.log")
        if judgement.failure is not None:
            print(f"decision {k:2}: benchmark failed: {judgement.failure[1]}")
            continue
        assert judgement.recorded is not None
        kept += judgement.keep
        pairs += judgement.pairs_used
        verdict = "KEPT" if judgement.keep else "discarded"
        print(
            f"decision {k:2}: {verdict:<9} effect {judgement.recorded.effect:+.1%} "
            f"[{judgement.recorded.ci_low:+.1%}, {judgement.recorded.ci_high:+.1%}] "
            f"{judgement.pairs_used} pairs"
        )
    elapsed = time.perf_counter() - started
    print(f"elapsed {elapsed:.0f} s; load average now {fingerprint().load_avg}")
    print(
        f"real_aa: decisions={decisions} kept={kept} threshold={threshold * 100:.1f}% "
        f"mean_pairs={pairs / max(decisions, 1):.1f}"
    )


if __name__ == "__main__":
    main()
