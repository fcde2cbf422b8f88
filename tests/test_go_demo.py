"""`perfsup demo --go --headless`: the Go target, for real (skipped without go)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.store import Artifact, Node, open_store
from tests.helpers import perfsup

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("go") is None, reason="the Go demo needs the go tool (apt install golang-go)"
    ),
]


def test_go_demo_keeps_the_allocation_fix(tmp_path: Path) -> None:
    done = perfsup("demo", "--go", "--headless", "--dir", str(tmp_path), "--seed", "3")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    store = open_store(tmp_path / "run" / "perfsup.db")
    with store.session() as s:
        status = {n.id: n.status for n in s.exec(select(Node)).all()}
        fix = s.get(Node, "1.2")
        artifacts = s.exec(select(Artifact).where(Artifact.node_id == "1")).all()
        perf = next(a for a in artifacts if a.step == "perf")
        profile = next(a for a in artifacts if a.kind == "profile")
    store.close()
    assert status == {"1": "kept", "1.1": "discarded", "1.2": "kept", "1.2.1": "checks_failed"}
    assert fix is not None and "reused buffer" in fix.description
    assert "appendFields(buf[:0], line)" in fix.diff
    # allocs/op, exact: from 503 per call down to a handful
    assert fix.effect is not None and fix.effect > 0.9
    # the Perf tab of the baseline shows the escape analysis, heap moves first
    text = Path(perf.path).read_text()
    assert "Go escape analysis" in text
    assert "escapes to heap" in text.split("Other notes:")[0]
    notes = json.loads(Path(profile.path).read_text())
    assert any(n["to_heap"] and n["file"] == "linestat.go" for n in notes)


def test_go_demo_without_go_says_so(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"  # git and python, but no go
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git") or "git")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}"}
    demo = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "perfsup", "demo", "--go", "--headless", "--dir", str(demo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "needs the go tool" in done.stderr and "Traceback" not in done.stderr
