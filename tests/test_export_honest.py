"""Export says what was kept (issue 16): a node not kept, or on a path through one,
is refused unless --force, and then every message says so; `--split` writes
independent patches that each apply alone to the baseline with `git am`.

A real git repository with the night's commits on `perfsup/<id>` branches, a
real store and the real command line.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from perfsup.store import Node, Run, open_store
from tests.helpers import GIT_ENV, git, make_repo, perfsup

BASE = {
    "src/a.py": "".join(f"a{i} = {i}\n" for i in range(12)),
    "src/b.py": "".join(f"b{i} = {i}\n" for i in range(12)),
    "src/c.py": "c = 0\n",
    "check.py": "print('ok')\n",
}
CONFIG = """
[target]
repo = "repo"
goal = "make it faster"

[bench]
run = "python bench.py"
pairs = 6

[[metrics]]
name = "time_ms"
direction = "lower"

[access]
writable = ["src"]

[model]
backend = "scripted"
script = "answers.toml"
"""


def edit(repo: Path, parent: str, node_id: str, changes: dict[str, str | None]) -> str:
    """Commit `changes` (None deletes) on perfsup/<node_id> from `parent`; its sha."""
    git(repo, "checkout", "-q", "-b", f"perfsup/{node_id}", parent)
    for rel, text in changes.items():
        if text is None:
            git(repo, "rm", "-q", rel)
        else:
            (repo / rel).write_text(text)
            git(repo, "add", rel)
    git(repo, "commit", "-q", "-m", f"perfsup {node_id}")
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return sha


def replaced(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


@pytest.fixture
def night(tmp_path: Path) -> Path:
    """1.1 (a.py) -> 1.1.1 (b.py) -> 1.1.1.1 (a.py again, c.py deleted), all kept;
    1.2 checks_failed with a stale effect; 1.1.2 discarded with a kept child 1.1.2.1."""
    repo = make_repo(tmp_path / "repo", BASE)
    base = git(repo, "rev-parse", "HEAD")
    a1 = replaced(BASE["src/a.py"], "a1 = 1\n", "a1 = 100\n")
    b1 = replaced(BASE["src/b.py"], "b3 = 3\n", "b3 = 300\n")
    a2 = replaced(a1, "a9 = 9\n", "a9 = 900\n")
    shas = {"1.1": edit(repo, base, "1.1", {"src/a.py": a1})}
    shas["1.1.1"] = edit(repo, shas["1.1"], "1.1.1", {"src/b.py": b1})
    shas["1.1.1.1"] = edit(repo, shas["1.1.1"], "1.1.1.1", {"src/a.py": a2, "src/c.py": None})
    shas["1.2"] = edit(repo, base, "1.2", {"src/b.py": "broken\n"})
    shas["1.1.2"] = edit(repo, shas["1.1"], "1.1.2", {"src/c.py": "c = 1\n"})
    shas["1.1.2.1"] = edit(repo, shas["1.1.2"], "1.1.2.1", {"src/b.py": b1})
    (tmp_path / "answers.toml").write_text("")
    (tmp_path / "perfsup.toml").write_text(CONFIG)
    store = open_store(tmp_path / "run" / "perfsup.db")
    rows = [
        # id, status, description, effect, reason
        ("1.1", "kept", "Cache a1", 0.30, "better"),
        ("1.1.1", "kept", "Cache b3", 0.20, "better"),
        ("1.1.1.1", "kept", "Cache a9, drop c", 0.10, "better"),
        ("1.2", "checks_failed", "Break b", 0.976, "check.py failed: 3 tests"),
        ("1.1.2", "discarded", "Bump c", 0.001, "no change worth keeping"),
        ("1.1.2.1", "kept", "Cache b3 on top", 0.20, "better"),
    ]
    with store.session() as s:
        s.add(
            Run(
                id=1, goal="make it faster", config_toml="", repo_path=str(repo),
                baseline_commit=base, root_node_id="1", status="finished",
            )
        )  # fmt: skip
        s.flush()
        s.add(Node(id="1", run_id=1, status="kept", description="baseline", commit_sha=base))
        s.flush()
        for node_id, status, text, effect, reason in rows:
            s.add(
                Node(
                    id=node_id, run_id=1, parent_id=node_id.rsplit(".", 1)[0],
                    depth=node_id.count("."), status=status, description=text, effect=effect,
                    ci_low=effect - 0.05, ci_high=effect + 0.05, reason=reason,
                    commit_sha=shas[node_id], model="scripted",
                )
            )  # fmt: skip
    store.close()
    return tmp_path


def cli(night: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return perfsup(*args, "-c", str(night / "perfsup.toml"), "--run-dir", str(night / "run"))


def fresh_baseline(night: Path, dest: Path) -> Path:
    """A clone of the night's repository at its baseline (main), as a reviewer has it."""
    subprocess.run(["git", "clone", "-q", str(night / "repo"), str(dest)], check=True)
    return dest


def am(repo: Path, patch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), "am", str(patch)],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    return done.stderr


def test_a_node_not_kept_is_refused_and_force_says_so_in_every_message(
    night: Path, tmp_path: Path
) -> None:
    patch = tmp_path / "broken.patch"
    error = one_line_error(cli(night, "export", "1.2", "-o", str(patch)))
    assert "1.2 was not kept (checks_failed: check.py failed: 3 tests)" in error
    assert "--force" in error and not patch.exists()

    done = cli(night, "export", "1.2", "--force", "-o", str(patch))
    assert done.returncode == 0, done.stderr
    assert "1.2 was not kept (checks_failed: check.py failed: 3 tests)" in done.stderr
    assert "1 not kept" in done.stdout
    text = patch.read_text()
    assert "Subject: [PATCH] perfsup 1.2: Break b (NOT KEPT)" in text
    assert "Not kept: 1.2 was not kept (checks_failed: check.py failed: 3 tests)" in text
    assert "Effect: not measured (checks_failed)" in text
    assert "97.6%" not in text and "better" not in text  # its stale effect is never claimed
    assert am(fresh_baseline(night, tmp_path / "clone"), patch).returncode == 0

    squash = tmp_path / "squash.patch"
    done = cli(night, "export", "1.2", "--force", "--squash", "-o", str(squash))
    assert done.returncode == 0, done.stderr
    text = squash.read_text()
    assert "(NOT ALL KEPT)" in text and "[NOT KEPT: checks_failed" in text
    assert "Compounded effect" not in text and "97.6%" not in text


def test_a_path_through_a_node_not_kept_is_refused(night: Path, tmp_path: Path) -> None:
    error = one_line_error(cli(night, "export", "1.1.2.1", "-o", str(tmp_path / "x.patch")))
    assert "1.1.2.1: its path from the baseline passes through 1.1.2" in error
    assert "not kept (discarded: no change worth keeping)" in error
    branch = cli(night, "export", "1.1.2.1", "--branch", "nope")
    assert "passes through 1.1.2" in one_line_error(branch)
    assert git(night / "repo", "branch", "--list", "nope") == ""
    # the same node with --force: the discarded change is named in its own message
    patch = tmp_path / "forced.patch"
    done = cli(night, "export", "1.1.2.1", "--force", "-o", str(patch))
    assert done.returncode == 0, done.stderr
    text = patch.read_text()
    assert "perfsup 1.1.2: Bump c (NOT KEPT)" in text
    assert "Effect: effect 0.1% better" in text and "(discarded)" in text
    assert "Subject: [PATCH 3/3] perfsup 1.1.2.1: Cache b3 on top\n" in text


def test_a_kept_path_exports_as_before(night: Path, tmp_path: Path) -> None:
    patch = tmp_path / "kept.patch"
    done = cli(night, "export", "1.1.1.1", "-o", str(patch))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "NOT KEPT" not in patch.read_text()
    clone = fresh_baseline(night, tmp_path / "clone")
    assert am(clone, patch).returncode == 0
    assert not (clone / "src/c.py").exists() and "a9 = 900" in (clone / "src/a.py").read_text()


def test_split_writes_parts_that_each_apply_alone_to_the_baseline(
    night: Path, tmp_path: Path
) -> None:
    repo = night / "repo"
    tip = {rel: git(repo, "show", f"perfsup/1.1.1.1:{rel}") for rel in ("src/a.py", "src/b.py")}
    parts = tmp_path / "parts"
    done = cli(night, "export", "1.1.1.1", "--split", "-o", str(parts))
    assert done.returncode == 0, done.stderr
    files = sorted(parts.iterdir())
    assert [f.name for f in files] == [
        "perfsup-1.1.1.1-part1.patch",
        "perfsup-1.1.1.1-part2.patch",
    ]
    # 1.1 and 1.1.1.1 both touch a.py: one part; 1.1.1 (b.py only) the other
    assert "1.1, 1.1.1.1 (src/a.py, src/c.py)" in done.stdout
    assert "1.1.1 (src/b.py)" in done.stdout
    first, second = (f.read_text() for f in files)
    assert "perfsup 1.1.1.1 part 1 of 2: Cache a1 (+1 more)" in first
    assert "perfsup-node: 1.1 1.1.1.1" in first and "perfsup-node: 1.1.1\n" in second

    # each part alone on a fresh baseline: its files as at the tip, the others as at the base
    alone = fresh_baseline(night, tmp_path / "alone1")
    assert am(alone, files[0]).returncode == 0
    assert (alone / "src/a.py").read_text().strip() == tip["src/a.py"]
    assert not (alone / "src/c.py").exists()
    assert (alone / "src/b.py").read_text() == BASE["src/b.py"]
    alone = fresh_baseline(night, tmp_path / "alone2")
    assert am(alone, files[1]).returncode == 0
    assert (alone / "src/b.py").read_text().strip() == tip["src/b.py"]
    assert (alone / "src/a.py").read_text() == BASE["src/a.py"]
    assert (alone / "src/c.py").exists()
    # both, in the other order, make the node's tree exactly
    both = fresh_baseline(night, tmp_path / "both")
    for patch in reversed(files):
        assert am(both, patch).returncode == 0
    assert git(both, "diff", "--stat", "origin/perfsup/1.1.1.1", "HEAD") == ""
    # the person's repository is untouched: same checkout, no new branch, clean index
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(repo, "status", "--porcelain") == ""


def test_split_obeys_the_same_refusal_and_needs_a_folder(night: Path, tmp_path: Path) -> None:
    error = one_line_error(cli(night, "export", "1.1.2.1", "--split", "-o", str(tmp_path / "p")))
    assert "passes through 1.1.2" in error and not (tmp_path / "p").exists()
    usage = cli(night, "export", "1.1.1.1", "--split")
    assert usage.returncode == 2 and "needs -o FOLDER" in usage.stderr
    done = cli(night, "export", "1.1.2.1", "--split", "--force", "-o", str(tmp_path / "p"))
    assert done.returncode == 0, done.stderr
    assert "1.1.2 was not kept (discarded" in done.stderr
    texts = [f.read_text() for f in sorted((tmp_path / "p").iterdir())]
    assert any("(NOT KEPT)" in t and "Not kept: 1.1.2 was not kept" in t for t in texts)
