"""The morning after a real demo run: export (each option), report, JSONL and CSV.

One `perfsup demo --headless` run of the bundled Python target (module
fixture); every exported patch is applied to a fresh clone of the demo's
baseline with `git am` and with `git apply`, where check.py passes and
bench.py reports a lower time_ms than on the baseline.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.metrics.csvlog import parse_metrics_csv
from perfsup.metrics.lines import parse_metric_lines
from perfsup.store import Node, Run, open_store
from tests.helpers import GIT_ENV, git, perfsup

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(python_demo: Path) -> Path:
    return python_demo  # one demo run, shared with tests/test_demo_run.py


def cli(demo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return perfsup(*args, "-c", str(demo / "repo" / "perfsup.toml"), "--run-dir", str(demo / "run"))


def clone(demo: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(demo / "repo"), str(dest)], check=True)
    return dest


def bench_ms(repo: Path) -> float:
    """The fastest of three runs of bench.py's time_ms."""
    best = float("inf")
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "bench.py"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout
        best = min(best, *parse_metric_lines(out)["time_ms"])
    return best


def apply_and_verify(demo: Path, patch: Path, tmp_path: Path, baseline_ms: float) -> None:
    env = {**os.environ, **GIT_ENV}
    for tool in (["am"], ["apply"]):
        repo = clone(demo, tmp_path / f"clone-{tool[0]}-{patch.stem}")
        done = subprocess.run(
            ["git", "-C", str(repo), *tool, str(patch)], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, (tool, done.stderr)
        assert "known = set(vocabulary)" in (repo / "textstats" / "core.py").read_text()
        check = subprocess.run([sys.executable, "check.py"], cwd=repo, capture_output=True)
        assert check.returncode == 0, tool
        assert bench_ms(repo) < baseline_ms * 0.7, tool


def test_every_export_applies_and_is_faster(demo: Path, tmp_path: Path) -> None:
    baseline_ms = bench_ms(clone(demo, tmp_path / "baseline"))
    series = tmp_path / "series.patch"
    assert cli(demo, "export", "1.2", "-o", str(series)).returncode == 0
    best = tmp_path / "best.patch"
    done = cli(demo, "export", "--best", "-o", str(best))
    assert done.returncode == 0, done.stderr
    assert "to 1.2" in done.stdout  # --best picked 1.2
    squash = tmp_path / "squash.patch"
    assert cli(demo, "export", "--best", "--squash", "-o", str(squash)).returncode == 0
    for patch in (series, best, squash):
        apply_and_verify(demo, patch, tmp_path, baseline_ms)

    # each commit message carries the node id, description, effect with interval, model
    store = open_store(demo / "run" / "perfsup.db")
    with store.session() as s:
        node = s.get(Node, "1.2")
        assert node is not None
    store.close()
    text = series.read_text()
    assert "Subject: [PATCH] perfsup 1.2: Use sets for the membership tests" in text
    effect = f"{abs(node.effect or 0):.1%} better [{node.ci_low:+.1%}, {node.ci_high:+.1%}]"
    assert f"Effect: time_ms {effect} (re-verified" in text
    assert f"Model: {node.model}" in text and "perfsup-node: 1.2" in text
    assert "Compounded effect" in squash.read_text()


def test_export_branch_leaves_the_checkout_alone(demo: Path, tmp_path: Path) -> None:
    repo = demo / "repo"
    head = git(repo, "rev-parse", "HEAD")
    (repo / "scratch.txt").write_text("the user's uncommitted work\n")
    try:
        done = cli(demo, "export", "--best", "--branch", "faster")
        assert done.returncode == 0, done.stderr
        assert "created branch faster" in done.stdout
        assert git(repo, "rev-parse", "HEAD") == head
        assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
        assert git(repo, "status", "--porcelain") == "?? scratch.txt"
        assert git(repo, "rev-parse", "faster~1") == head
        assert "perfsup-node: 1.2" in git(repo, "log", "-1", "--format=%B", "faster")
        again = cli(demo, "export", "--best", "--branch", "faster")
        assert again.returncode == 1 and "already exists" in again.stderr
        # the branch checks out and passes
        work = clone(demo, tmp_path / "branch")
        git(work, "checkout", "-q", "faster")
        assert subprocess.run([sys.executable, "check.py"], cwd=work).returncode == 0
    finally:
        (repo / "scratch.txt").unlink()
        git(repo, "branch", "-D", "faster")


def test_export_usage_errors_are_one_line(demo: Path) -> None:
    for args, expected in (
        (("export",), "needs a node id or --best"),
        (("export", "1.2", "--best"), "needs a node id or --best"),
        (("export", "1"), "no change to export"),
        (("export", "1.2", "--branch", "bad..name"), "invalid branch name"),
    ):
        done = cli(demo, *args)
        assert done.returncode != 0 and expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_export_of_the_checks_failed_node_is_refused_then_honest_with_force(
    demo: Path, tmp_path: Path
) -> None:
    # issue 16: the demo's 1.2.1 fails its checks; its patch used to claim a gain
    patch = tmp_path / "broken.patch"
    done = cli(demo, "export", "1.2.1", "-o", str(patch))
    assert done.returncode == 1 and "1.2.1 was not kept (checks_failed" in done.stderr
    assert "Traceback" not in done.stderr and not patch.exists()
    done = cli(demo, "export", "1.2.1", "--force", "-o", str(patch))
    assert done.returncode == 0, done.stderr
    assert "1.2.1 was not kept (checks_failed" in done.stderr
    broken = patch.read_text().split("perfsup 1.2.1:")[1]  # 1.2 (kept) comes first
    assert "(NOT KEPT)" in broken and "Not kept: 1.2.1 was not kept (checks_failed" in broken
    assert "Effect: not measured (checks_failed)" in broken and "better" not in broken


def store_facts(demo: Path) -> tuple[Run, list[Node]]:
    store = open_store(demo / "run" / "perfsup.db")
    with store.session() as s:
        run = s.get(Run, 1)
        nodes = list(s.exec(select(Node)).all())
    store.close()
    assert run is not None
    return run, nodes


def test_report_markdown_and_html_match_the_store(demo: Path, tmp_path: Path) -> None:
    run, nodes = store_facts(demo)
    md = tmp_path / "night.md"
    done = cli(demo, "report", "-o", str(md))
    assert done.returncode == 0, done.stderr
    text = md.read_text()
    chart = tmp_path / "night.png"
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "](night.png)" in text
    assert run.goal in text and run.baseline_commit[:12] in text
    assert f"Tokens used: {run.tokens_used:,}" in text
    table = [line for line in text.splitlines() if line.startswith("| 1")]
    rows = {line.split("|")[1].strip(): line for line in table}
    for node in nodes:
        row = rows[node.id]
        assert f"| {node.status} |" in row
        tokens = node.prompt_tokens + node.completion_tokens
        assert f"| {tokens:,} |" in row
        if node.effect is not None:
            assert f"{node.effect * 100:+.1f}%" in row
            assert f"[{node.ci_low * 100:+.1f}, {node.ci_high * 100:+.1f}]" in row
    failures = text.split("## Failures by reason")[1].split("\n## ")[0]
    for status in ("checks_failed", "build_failed", "rejected"):
        assert f"### {status} (1)" in failures
    assert "noise floor" in text and "## Where the time went" in text
    assert "Best: 1.2" in text

    page = tmp_path / "night.html"
    assert cli(demo, "report", "-o", str(page)).returncode == 0  # the name says HTML
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert match and base64.b64decode(match.group(1)).startswith(b"\x89PNG")
    assert 'src="http' not in html and "<link" not in html  # self-contained
    assert "Use sets for the membership tests in unknown_words" in html


def test_report_refuses_html_into_a_markdown_name(demo: Path, tmp_path: Path) -> None:
    done = cli(demo, "report", "--html", "-o", str(tmp_path / "night.md"))
    assert done.returncode == 2
    assert "expected a name ending in .html" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "night.md").exists()


def test_jsonl_follows_the_autoresearch_convention(demo: Path) -> None:
    done = cli(demo, "log", "--jsonl")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    config, rows = lines[0], lines[1:]
    assert config == {
        "type": "config",
        "name": store_facts(demo)[0].goal,
        "metricName": "time_ms",
        "metricUnit": "ms",
        "bestDirection": "lower",
    }
    # issue 16: "run" is the run's number, not a counter; experiments are numbered by
    # "iteration" as in the metrics CSV (0 = the baseline)
    assert [r["run"] for r in rows] == [1] * len(rows)
    assert [r["iteration"] for r in rows] == list(range(len(rows)))
    for r in rows:
        assert {"commit", "metric", "metrics", "status", "description", "timestamp"} <= set(r)
        assert r["status"] in {"keep", "discard", "crash", "checks_failed"}
        assert isinstance(r["metrics"], dict)
        if r["status"] in ("keep", "discard"):
            assert isinstance(r["metric"], int | float)
        else:  # a failed experiment has no value: a 0 would read as the best time
            assert r["metric"] is None and r["metrics"] == {} and r["reason"]
        assert isinstance(r["timestamp"], int) and r["timestamp"] > 1_600_000_000_000
    by_node = {r["node"]: r for r in rows}
    assert [by_node[n]["status"] for n in ("1", "1.1", "1.2", "1.2.1", "1.2.2", "1.2.3")] == [
        "keep", "discard", "keep", "checks_failed", "crash", "crash"
    ]  # fmt: skip
    assert by_node["1.2"]["metric"] < by_node["1"]["metric"]
    assert by_node["1.2"]["metric"] == by_node["1.2"]["metrics"]["time_ms"]


def test_metrics_csv_is_kept_while_running_and_matches_log_csv(demo: Path) -> None:
    live = (demo / "run" / "metrics.csv").read_text()
    metrics, rows = parse_metrics_csv(live)
    assert [(m.name, m.direction) for m in metrics] == [("time_ms", "lower")]
    assert [r["iteration"] for r in rows] == [0.0, 1.0, 2.0]  # baseline, 1.1, 1.2 measured
    assert rows[2]["time_ms"] < rows[0]["time_ms"]
    done = cli(demo, "log", "--csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout == live
