"""How the TUI holds up: a flood of log lines, and a tree of 10,000 nodes.

    python benchmarks/tui_stream.py [--lines 1000000]

1. A real subprocess writes `--lines` ANSI-coloured lines as fast as it can
   into the running node's bench log while the TUI shows that node (the real
   event loop and compositor, run as on a terminal: every frame is rendered to
   the bytes a terminal gets, handed to a driver that only time-stamps them).
   We measure the lines per second the panes absorb, the lag of a 10 ms timer
   on the UI loop (p99 and max) and the process memory once every line is
   absorbed.
2. A store of 10,000 nodes (100 children of the root, 99 under each): time
   from creating the app to the first frame that paints the tree, latency of
   a cursor key (p99 over 200 presses 20 ms apart, from the key event to the
   first frame that paints the line the cursor moved to) and of expanding a
   node with 99 children (to the frame that paints its first child). A key
   whose effect is not painted within 5 s counts as 5 s (and is reported).

Targets (issue 6): >= 50,000 lines/s with lag p99 < 50 ms; open < 1 s; key
< 50 ms; memory < 150 MB. Last line: the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psutil
from sqlalchemy import insert
from textual import events
from textual.driver import Driver
from textual.drivers.headless_driver import HeadlessDriver
from textual.pilot import Pilot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perfsup.config.load import parse_config  # noqa: E402
from perfsup.engine.rundir import RunPaths  # noqa: E402
from perfsup.store import Node, Run, open_store  # noqa: E402
from perfsup.tui.app import PerfsupApp, create_app  # noqa: E402
from perfsup.tui.tree import RunTree  # noqa: E402

T = TypeVar("T")
KEY_TIMEOUT_S = 5.0  # a key not painted by then counts as this long
KEY_GAP_S = 0.02
SIZE = (160, 45)
MOVE_TO = re.compile(r"\x1b\[(\d+);\d+H")  # cursor position: row;column, 1-based

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


def node_diff(node_id: str) -> str:
    """A small diff that differs per node, so every cursor stop shows a new one."""
    lines = [f"--- a/src/mod{node_id}.py", f"+++ b/src/mod{node_id}.py", "@@ -1,8 +1,8 @@"]
    for k in range(8):
        lines += [f"-def f{k}(x):  # {node_id}", f"+def f{k}(x: int) -> int:  # {node_id}"]
    return "\n".join(lines) + "\n"


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
                    "diff": node_diff(i),
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                }
                for i, p, st in nodes
            ],
        )
    store.close()
    return paths, config


class FrameDriver(HeadlessDriver):
    """Textual's headless driver, except that it says it is not headless.

    A headless app skips turning frames into terminal output; with this driver
    the app renders every frame to the bytes a real terminal driver would write
    (so that cost is in the figures) and hands them to `write()`, which tells
    the app which screen rows the frame paints and when. All public Textual API
    (a Driver subclass, `App.get_driver_class`, `App.run_async`): no private
    compositor objects.
    """

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        app = self._app
        if isinstance(app, TimedApp) and app.on_frame is not None:
            rows = painted_rows(data)
            if rows:
                app.on_frame(rows, time.perf_counter())


def painted_rows(data: str) -> set[int]:
    """The 0-based screen rows a frame writes to: Textual moves the cursor to the start
    of every piece it paints, and finally to where the terminal cursor rests (not paint)."""
    moves = list(MOVE_TO.finditer(data))
    if moves and moves[-1].end() == len(data):
        moves.pop()
    return {int(m.group(1)) - 1 for m in moves}


class TimedApp(PerfsupApp):
    """The real app, run through FrameDriver: `on_frame(rows, t)` hears every frame."""

    on_frame: Callable[[set[int], float], None] | None = None
    key_cpu_ms = 0.0  # CPU time of this process (every thread) during the last key

    def get_driver_class(self) -> type[Driver]:
        return FrameDriver


async def run_timed(app: TimedApp, body: Callable[[Pilot[object]], Awaitable[T]]) -> T:
    """Run the app as on a terminal of SIZE (`run_async`, not `run_test`, whose
    headless driver would skip rendering frames) and `body` in it once it is ready
    (as its autopilot: in the app's context, where timers can be set)."""
    result: list[T] = []
    failure: list[BaseException] = []

    async def auto_pilot(pilot: Pilot[object]) -> None:
        try:
            result.append(await body(pilot))
        except BaseException as exc:  # re-raised below, once the app has closed
            failure.append(exc)
        finally:
            app.exit()

    await app.run_async(size=SIZE, auto_pilot=auto_pilot)
    if failure:
        raise failure[0]
    if not result:
        raise RuntimeError("the app exited before the benchmark ran")
    return result[0]


def timed_app(paths: RunPaths, config: object) -> TimedApp:
    plain = create_app(None, paths.root, config)  # type: ignore[arg-type]
    return TimedApp(
        paths=plain.paths, store_path=plain.store_path, config=plain.config,
        theme_name=None, keymap=plain.keymap, export_dir=plain.export_dir,
    )  # fmt: skip


def cursor_row(tree: RunTree, below: int = 0) -> int:
    """The screen row of the tree's cursor line (plus `below` lines)."""
    return tree.content_region.y + tree.cursor_line + below - round(tree.scroll_offset.y)


async def until_painted(
    app: TimedApp, done: Callable[[], bool], row: Callable[[], int], timeout: float
) -> float | None:
    """perf_counter time of the first frame painted once `done()` holds that covers
    `row()` (the line showing the change), or None if no such frame came in time."""
    painted: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_frame(rows: set[int], now: float) -> None:
        if not painted.done() and done() and row() in rows:
            painted.set_result(now)

    app.on_frame = on_frame
    try:
        return await asyncio.wait_for(asyncio.shield(painted), timeout)
    except TimeoutError:
        return None
    finally:
        app.on_frame = None


async def key_to_paint(
    app: TimedApp, key: str, done: Callable[[], bool], row: Callable[[], int]
) -> float | None:
    """ms from a key event reaching the app (as the terminal driver posts it) to the
    compositor painting the line that shows its effect; None if it never did (5 s).

    Nothing else is waited for: no idle CPU (as Pilot.press does, adding ~60 ms to
    any key), no timer of the app that happens to repaint.
    """
    start = time.perf_counter()
    cpu = time.process_time()
    app.post_message(events.Key(key, " " if key == "space" else None))
    end = await until_painted(app, done, row, KEY_TIMEOUT_S)
    app.key_cpu_ms = (time.process_time() - cpu) * 1000
    return None if end is None else (end - start) * 1000


def at_line(tree: RunTree, line: int) -> Callable[[], bool]:
    return lambda: tree.cursor_line == line


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def flood(lines: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="perfsup-tui-flood-"))
    paths, config = make_run(folder, [("1", None, "kept"), ("1.1", "1", "benchmarking")])
    log = paths.log("1.1", "bench")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    app = timed_app(paths, config)
    gaps: list[float] = []

    async def body(pilot: Pilot[object]) -> tuple[int, float, int, float]:
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
        return absorbed, elapsed, pane_lines, rss

    absorbed, elapsed, pane_lines, rss = await run_timed(app, body)
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
    app = timed_app(paths, config)
    first: list[float] = []

    def first_frame(rows: set[int], now: float) -> None:
        # the first frame that paints the tree with the run's 100 children loaded
        tree = app.run_tree
        if not first and "1.100" in tree.tree_nodes and tree.content_region.y in rows:
            first.append(now)

    app.on_frame = first_frame

    async def body(
        pilot: Pilot[object],
    ) -> tuple[float, list[float | None], list[float], float | None, int]:
        tree = app.query_one(RunTree)
        while not first and time.perf_counter() - start < 60:
            await asyncio.sleep(0.005)
        open_ms = (first[0] - start) * 1000 if first else float("nan")
        await pilot.pause(0.5)  # the panes of the first node load; the first store read
        keys: list[float | None] = []
        cpu: list[float] = []
        for key in ["down"] * 100 + ["up"] * 100:
            target = tree.cursor_line + (1 if key == "down" else -1)
            keys.append(
                await key_to_paint(app, key, at_line(tree, target), lambda: cursor_row(tree))
            )
            cpu.append(app.key_cpu_ms)
            await asyncio.sleep(KEY_GAP_S)  # a person's key repeat, not a burst
        for _ in range(50):  # down to the 50th run child (1.50)
            target = tree.cursor_line + 1
            await key_to_paint(app, "down", at_line(tree, target), lambda: cursor_row(tree))
        await asyncio.sleep(KEY_GAP_S)
        node = tree.cursor_node
        assert node is not None and node.data == "1.50", node
        # expand the node under the cursor: its 99 children are read from the store
        expand_ms = await key_to_paint(
            app, "space", lambda: len(node.children) > 0, lambda: cursor_row(tree, below=1)
        )
        expanded = len(node.children)
        return open_ms, keys, cpu, expand_ms, expanded

    open_ms, keys, cpu, expand_ms, expanded = await run_timed(app, body)
    timed = [k for k in keys if k is not None]
    missed = len(keys) - len(timed)
    # A key whose effect was never painted counts as the timeout: it is the worst case.
    worst = [k if k is not None else KEY_TIMEOUT_S * 1000 for k in keys]
    return {
        "nodes": len(nodes[:10_000]),
        "open_ms": open_ms,
        "key_p99_ms": percentile(worst, 0.99),
        "key_median_ms": statistics.median(worst),
        "key_max_ms": max(worst),
        "keys_missed": missed,
        "key_cpu_p99_ms": percentile(cpu, 0.99),
        "key_cpu_median_ms": statistics.median(cpu),
        "expand_ms": expand_ms if expand_ms is not None else float("nan"),
        "expanded_children": expanded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["flood", "tree"], help="run one part")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    if args.only == "tree":
        print(asyncio.run(tree10k()))
        return
    f = asyncio.run(flood(args.lines))
    if args.only == "flood":
        print(f)
        return
    print(
        f"flood: {f['lines']:.0f} lines in {f['seconds']:.2f} s = {f['lines_per_s']:,.0f} lines/s;"
        f" 10 ms timer lag p99 {f['lag_p99_ms']:.1f} ms, max {f['lag_max_ms']:.1f} ms;"
        f" pane keeps {f['pane_lines']:.0f} lines; RSS {f['mem_mb']:.0f} MB"
    )
    t = asyncio.run(tree10k())
    print(
        f"tree: {t['nodes']:.0f} nodes; first paint {t['open_ms']:.0f} ms;"
        f" cursor key median {t['key_median_ms']:.1f} ms, p99 {t['key_p99_ms']:.1f} ms"
        f" (max {t['key_max_ms']:.1f}; {t['keys_missed']:.0f} of 200 never painted);"
        f" CPU per key median {t['key_cpu_median_ms']:.1f} ms, p99 {t['key_cpu_p99_ms']:.1f} ms;"
        f" expand ({t['expanded_children']:.0f} children) {t['expand_ms']:.1f} ms"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"tui_stream: flood_lines_per_s={f['lines_per_s']:.0f} lag_p99_ms={f['lag_p99_ms']:.1f}"
        f" tree10k_open_ms={t['open_ms']:.0f} tree10k_key_ms={t['key_p99_ms']:.1f}"
        f" mem_1m_lines_mb={f['mem_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
