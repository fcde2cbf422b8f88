"""How the TUI holds up: a flood of log lines, and a tree of 10,000 nodes.

    python benchmarks/tui_stream.py [--lines 1000000]

1. A real subprocess writes `--lines` ANSI-coloured lines as fast as it can
   into the running node's bench log while the TUI (headless Textual driver,
   the real event loop and compositor) shows that node. We measure the lines
   per second the panes absorb, the lag of a 10 ms timer on the UI loop (p99
   and max) and the process memory once every line is absorbed.
2. A store of 10,000 nodes (100 children of the root, 99 under each): time
   from creating the app to the first painted tree, latency of a cursor key
   (p99 over 200 presses, from the key event to the repaint) and of expanding
   a node with 99 children.

Targets (issue 6): >= 50,000 lines/s with lag p99 < 50 ms; open < 1 s; key
< 50 ms; memory < 150 MB. Last line: the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import insert
from textual import events

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perfsup.config.load import parse_config  # noqa: E402
from perfsup.engine.rundir import RunPaths  # noqa: E402
from perfsup.store import Node, Run, open_store  # noqa: E402
from perfsup.tui.app import PerfsupApp, create_app  # noqa: E402
from perfsup.tui.tree import RunTree  # noqa: E402

CONFIG = """
[target]
repo = "."
goal = "benchmark the TUI"
[bench]
run = "true"
[[metrics]]
name = "time_ms"
[access]
writable = ["src"]
[model]
backend = "scripted"
script = "answers.toml"
"""

WRITER = r"""
import sys
path, count = sys.argv[1], int(sys.argv[2])
with open(path, "a", buffering=1 << 20) as out:
    for i in range(count):
        side = f"pair {i // 2} side {i % 2}"
        out.write(f"\x1b[32mbench\x1b[0m {side}: METRIC time_ms={i % 97}.{i % 10}\n")
"""


def make_run(folder: Path, nodes: list[tuple[str, str | None, str]]) -> tuple[RunPaths, object]:
    (folder / "answers.toml").write_text("")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "src").mkdir()
    config_path = folder / "perfsup.toml"
    config_path.write_text(CONFIG)
    config = parse_config(CONFIG, config_path)
    paths = RunPaths(folder / "run")
    store = open_store(paths.store)
    now = datetime.now(UTC)
    with store.session() as s:
        s.add(Run(id=1, goal="x", config_toml="", repo_path=str(folder), baseline_commit="0" * 40,
                  root_node_id="1", engine_state="running", created_at=now))  # fmt: skip
        s.flush()
        s.execute(
            insert(Node),
            [
                {
                    "id": i,
                    "run_id": 1,
                    "parent_id": p,
                    "status": st,
                    "depth": i.count("."),
                    "description": f"experiment {i}",
                    "created_at": now,
                    "priority": 0,
                    "ordinal": 0,
                    "rationale": "",
                    "answer_text": "",
                    "diff": "",
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                }
                for i, p, st in nodes
            ],
        )
    store.close()
    return paths, config


async def key_latency(app: PerfsupApp, key: str, done: Callable[[], bool]) -> float:
    """ms from a key event reaching the app to the screen repainted with its effect.

    (Pilot.press waits for the CPU to go idle, which adds ~60 ms to any key.)
    """
    start = time.perf_counter()
    app.post_message(events.Key(key, " " if key == "space" else None))
    while not done():
        await asyncio.sleep(0)
    painted = asyncio.Event()
    app.call_after_refresh(painted.set)
    await painted.wait()
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def flood(lines: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="perfsup-tui-flood-"))
    paths, config = make_run(folder, [("1", None, "kept"), ("1.1", "1", "benchmarking")])
    log = paths.log("1.1", "bench")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    app: PerfsupApp = create_app(None, paths.root, config)  # type: ignore[arg-type]
    gaps: list[float] = []
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.3)
        tree = app.query_one(RunTree)
        tree.move_cursor(tree.tree_nodes["1.1"])
        await pilot.pause(0.3)
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(0.01, tick)
        await pilot.pause(0.2)
        gaps.clear()
        app.flood_lines = 0
        start = time.perf_counter()
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(lines)])
        while app.flood_lines < lines:
            await asyncio.sleep(0.01)
            if time.perf_counter() - start > 300:
                break
        elapsed = time.perf_counter() - start
        writer.wait(timeout=60)
        absorbed = app.flood_lines
        pane_lines = app.node_panes.query_one("#log-bench").line_count  # type: ignore[attr-defined]
        rss = psutil.Process().memory_info().rss / 2**20
    lags = [max(0.0, g - 0.01) * 1000 for g in gaps]
    return {
        "lines": absorbed,
        "seconds": elapsed,
        "lines_per_s": absorbed / elapsed,
        "lag_p99_ms": percentile(lags, 0.99),
        "lag_max_ms": max(lags),
        "pane_lines": pane_lines,
        "mem_mb": rss,
    }


async def tree10k() -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="perfsup-tui-tree-"))
    nodes: list[tuple[str, str | None, str]] = [("1", None, "kept")]
    for a in range(1, 101):
        nodes.append((f"1.{a}", "1", "kept" if a % 7 == 0 else "discarded"))
        for b in range(1, 100):
            nodes.append((f"1.{a}.{b}", f"1.{a}", "checks_failed" if b % 5 == 0 else "discarded"))
    paths, config = make_run(folder, nodes[:10_000])
    start = time.perf_counter()
    app: PerfsupApp = create_app(None, paths.root, config)  # type: ignore[arg-type]
    async with app.run_test(size=(160, 45)) as pilot:
        tree = app.query_one(RunTree)
        while "1.100" not in tree.tree_nodes:
            await asyncio.sleep(0.005)
        await pilot.pause()  # one paint with the tree on screen
        open_ms = (time.perf_counter() - start) * 1000
        await pilot.pause(0.3)
        keys = []
        for key in ["down"] * 100 + ["up"] * 100:
            line = tree.cursor_line
            keys.append(await key_latency(app, key, lambda line=line: tree.cursor_line != line))
            await asyncio.sleep(0.02)  # a person's key repeat, not a burst
        for _ in range(50):  # back to the first run of children
            await key_latency(app, "down", lambda: True)
        node = tree.cursor_node
        assert node is not None
        # expand the node under the cursor: 99 children read from the store
        expand_ms = await key_latency(app, "space", lambda: len(node.children) > 0)
        expanded = sum(1 for n in tree.tree_nodes if n.count(".") == 2)
    return {
        "nodes": len(nodes[:10_000]),
        "open_ms": open_ms,
        "key_p99_ms": percentile(keys, 0.99),
        "key_median_ms": statistics.median(keys),
        "key_max_ms": max(keys),
        "expand_ms": expand_ms,
        "expanded_children": expanded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    f = asyncio.run(flood(args.lines))
    print(
        f"flood: {f['lines']:.0f} lines in {f['seconds']:.2f} s = {f['lines_per_s']:,.0f} lines/s;"
        f" 10 ms timer lag p99 {f['lag_p99_ms']:.1f} ms, max {f['lag_max_ms']:.1f} ms;"
        f" pane keeps {f['pane_lines']:.0f} lines; RSS {f['mem_mb']:.0f} MB"
    )
    t = asyncio.run(tree10k())
    print(
        f"tree: {t['nodes']:.0f} nodes; first paint {t['open_ms']:.0f} ms;"
        f" cursor key median {t['key_median_ms']:.1f} ms, p99 {t['key_p99_ms']:.1f} ms"
        f" (max {t['key_max_ms']:.1f});"
        f" expand ({t['expanded_children']:.0f} children) {t['expand_ms']:.1f} ms"
    )
    print(
        f"tui_stream: flood_lines_per_s={f['lines_per_s']:.0f} lag_p99_ms={f['lag_p99_ms']:.1f}"
        f" tree10k_open_ms={t['open_ms']:.0f} tree10k_key_ms={t['key_p99_ms']:.1f}"
        f" mem_1m_lines_mb={f['mem_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
