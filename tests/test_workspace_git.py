"""GitWorkspace on real repositories, with no git identity configured.

Every test runs with HOME pointed at an empty folder and system config off,
so commit_all must supply its own identity. The user's checkout must come out
of every test exactly as it went in.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsup.workspace.git import GitWorkspace, NothingToCommit
from perfsup.workspace.gitclone import clone_or_fetch

# Only the test's own setup commits (as "the user") get an identity.
USER_ID = (
    "-c",
    "user.name=Test User",
    "-c",
    "user.email=user@example.invalid",
    "-c",
    "commit.gpgSign=false",
)


@pytest.fixture(autouse=True)
def no_git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "GIT_CONFIG_GLOBAL",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)
    yield


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(cwd), *USER_ID, *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The user's repository: two commits on main, clean checkout."""
    path = tmp_path / "user-repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "src").mkdir()
    (path / "src" / "fast.py").write_text("def f():\n    return sum(range(10))\n")
    (path / "src" / "old.py").write_text("OLD = 1\n")
    (path / "README").write_text("hello\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    (path / "README").write_text("hello\nworld\n")
    git(path, "commit", "-q", "-am", "second")
    return path


def user_state(repo: Path) -> tuple[str, str, str, str]:
    return (
        git(repo, "symbolic-ref", "HEAD"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "diff", "--cached"),
    )


@pytest.fixture
def ws(repo: Path, tmp_path: Path) -> GitWorkspace:
    return GitWorkspace(repo, tmp_path / "run" / "worktrees")


def test_worktree_commit_branches_and_user_untouched(
    repo: Path, ws: GitWorkspace, tmp_path: Path
) -> None:
    before = user_state(repo)
    base = ws.resolve("HEAD")
    assert len(base) == 40 and base == ws.resolve("main") == ws.resolve(base[:8])

    wt = ws.add_worktree("1.1", base)
    assert wt == (tmp_path / "run" / "worktrees" / "1.1").resolve()
    assert git(wt, "rev-parse", "HEAD").strip() == base
    (wt / "src" / "fast.py").write_text("def f():\n    return 45\n")  # modify
    (wt / "src" / "new.py").write_text("NEW = 2\n")  # add
    (wt / "src" / "old.py").unlink()  # delete
    sha = ws.commit_all(wt, "perfsup/1.1", "Precompute the sum\n\nMETRIC t=1.0")

    assert ws.branch_commit("perfsup/1.1") == sha
    assert git(repo, "rev-parse", f"{sha}^").strip() == base
    ident = git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha).strip()
    assert ident == "perfsup <perfsup@localhost>|perfsup <perfsup@localhost>"
    assert git(repo, "log", "-1", "--format=%s", sha).strip() == "Precompute the sum"
    files = git(repo, "ls-tree", "-r", "--name-only", sha).split()
    assert "src/new.py" in files and "src/old.py" not in files

    diff = ws.diff(base, sha)
    assert "+    return 45" in diff and "+NEW = 2" in diff and "-OLD = 1" in diff
    assert "diff --git a/src/fast.py b/src/fast.py" in diff

    # A child on top, and the run-root branch: perfsup/1, perfsup/1.1, perfsup/1.1.1 coexist.
    wt2 = ws.add_worktree("1.1.1", sha)
    (wt2 / "README").write_text("changed again\n")
    sha2 = ws.commit_all(wt2, "perfsup/1.1.1", "Second step")
    git(repo, "branch", "perfsup/1", base)  # what the engine does for a run root
    assert ws.branch_commit("perfsup/1") == base
    assert ws.branch_commit("perfsup/1.1") == sha
    assert ws.branch_commit("perfsup/1.1.1") == sha2
    assert ws.branch_commit("perfsup/nope") is None

    # Re-pointing a branch (a retried node) is a force move.
    wt3 = ws.add_worktree("1.1-retry", base)
    (wt3 / "README").write_text("retry\n")
    sha3 = ws.commit_all(wt3, "perfsup/1.1", "Retry")
    assert ws.branch_commit("perfsup/1.1") == sha3

    for path in (wt, wt2, wt3):
        ws.remove_worktree(path)
        assert not path.exists()
    ws.remove_worktree(wt)  # already gone: no error
    assert user_state(repo) == before
    assert before[2] == ""  # the checkout was and stays clean


def test_dirty_user_checkout_is_left_exactly_as_it_was(repo: Path, ws: GitWorkspace) -> None:
    (repo / "README").write_text("user edit, unstaged\n")
    (repo / "src" / "staged.py").write_text("S = 1\n")
    git(repo, "add", "src/staged.py")
    (repo / "scratch.txt").write_text("untracked\n")
    before = user_state(repo)
    wt = ws.add_worktree("1.1", "HEAD")
    assert (wt / "README").read_text() == "hello\nworld\n"  # the commit, not the user's edit
    assert not (wt / "scratch.txt").exists()
    (wt / "src" / "fast.py").write_text("X = 1\n")
    ws.commit_all(wt, "perfsup/1.1", "change")
    ws.remove_orphan_worktrees(keep=[])
    assert user_state(repo) == before
    assert (repo / "README").read_text() == "user edit, unstaged\n"


def test_format_patch_applies_with_git_am(repo: Path, ws: GitWorkspace, tmp_path: Path) -> None:
    base = ws.resolve("HEAD")
    wt = ws.add_worktree("1.1", base)
    (wt / "src" / "fast.py").write_text("def f():\n    return 45\n")
    (wt / "src" / "old.py").unlink()
    first = ws.commit_all(wt, "perfsup/1.1", "First change")
    wt2 = ws.add_worktree("1.1.1", first)
    (wt2 / "src" / "extra.py").write_text("E = 3\n")
    tip = ws.commit_all(wt2, "perfsup/1.1.1", "Second change")

    patch = ws.format_patch(base, "perfsup/1.1.1")
    assert patch.count("\nSubject: [PATCH") == 2 and patch.endswith("\n")
    (tmp_path / "series.patch").write_text(patch)

    clone = tmp_path / "fresh-clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    git(clone, "checkout", "-q", "--detach", base)
    git(clone, "am", "-q", str(tmp_path / "series.patch"))
    assert git(clone, "rev-parse", "HEAD^{tree}") == git(repo, "rev-parse", f"{tip}^{{tree}}")
    assert git(clone, "log", "-2", "--format=%s").split("\n")[:2] == [
        "Second change",
        "First change",
    ]


def test_nothing_to_commit(ws: GitWorkspace) -> None:
    wt = ws.add_worktree("1.1", "HEAD")
    with pytest.raises(NothingToCommit):
        ws.commit_all(wt, "perfsup/1.1", "empty")
    assert ws.branch_commit("perfsup/1.1") is None


def test_resolve_unknown_ref_names_it(ws: GitWorkspace) -> None:
    with pytest.raises(ValueError, match="no-such-branch"):
        ws.resolve("no-such-branch")
    with pytest.raises(ValueError, match="--output"):
        ws.resolve("--output=x")  # never taken as an option


def test_add_worktree_replaces_a_stale_one(repo: Path, ws: GitWorkspace) -> None:
    first = ws.resolve("HEAD~1")
    wt = ws.add_worktree("1.2", "HEAD")
    (wt / "leftover.txt").write_text("junk\n")
    (wt / "README").write_text("half-applied edit\n")
    again = ws.add_worktree("1.2", first)
    assert again == wt
    assert not (wt / "leftover.txt").exists()
    assert (wt / "README").read_text() == "hello\n"
    assert git(wt, "rev-parse", "HEAD").strip() == first

    junk = ws.worktrees_dir / "1.3"  # a folder a crash left, unknown to git
    junk.mkdir()
    (junk / "x").write_text("x")
    wt3 = ws.add_worktree("1.3", "HEAD")
    assert (wt3 / "README").exists() and not (wt3 / "x").exists()


def test_refuses_to_touch_anything_but_its_own(repo: Path, ws: GitWorkspace) -> None:
    before = user_state(repo)
    with pytest.raises(ValueError, match="not a perfsup worktree"):
        ws.remove_worktree(repo)
    (repo / "README").write_text("user edit\n")
    with pytest.raises(ValueError, match="not a perfsup worktree"):
        ws.commit_all(repo, "perfsup/1.1", "must not happen")
    (repo / "README").write_text("hello\nworld\n")
    wt = ws.add_worktree("1.1", "HEAD")
    (wt / "README").write_text("x\n")
    with pytest.raises(ValueError, match="perfsup/"):
        ws.commit_all(wt, "main", "must not move main")
    with pytest.raises(ValueError, match="bad worktree name"):
        ws.add_worktree("../escape", "HEAD")
    assert user_state(repo) == before


def test_worktrees_dir_must_not_contain_the_repo(repo: Path) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        GitWorkspace(repo, repo.parent)
    with pytest.raises(ValueError, match="not a git repository"):
        GitWorkspace(repo.parent / "nope", repo.parent / "wts")


def test_never_moves_the_users_checked_out_branch(repo: Path, ws: GitWorkspace) -> None:
    git(repo, "checkout", "-q", "-b", "perfsup/9")
    before = user_state(repo)
    wt = ws.add_worktree("9", "HEAD~1")
    (wt / "README").write_text("x\n")
    with pytest.raises(RuntimeError, match="perfsup/9"):
        ws.commit_all(wt, "perfsup/9", "would move the user's branch")
    assert user_state(repo) == before


def test_remove_orphan_worktrees(repo: Path, ws: GitWorkspace) -> None:
    keep = ws.add_worktree("1.1", "HEAD")
    orphan = ws.add_worktree("1.2", "HEAD")
    gone = ws.add_worktree("1.3", "HEAD")
    subprocess.run(["rm", "-rf", str(gone)], check=True)  # deleted behind git's back
    stray = ws.worktrees_dir / "1.4"
    stray.mkdir()
    removed = ws.remove_orphan_worktrees(keep=[keep])
    assert set(removed) == {orphan, gone, stray}
    assert keep.exists() and not orphan.exists() and not stray.exists()
    listed = git(repo, "worktree", "list", "--porcelain")
    assert str(keep) in listed and str(orphan) not in listed and str(gone) not in listed
    assert ws.remove_orphan_worktrees(keep=[keep]) == []


def test_clone_or_fetch_from_file_url(repo: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(repo, "push", "-q", str(origin), "main")
    url = origin.as_uri()
    cache = tmp_path / "cache"

    path = clone_or_fetch(url, cache)
    assert path.parent == cache and path.name.startswith("origin-")
    first = git(repo, "rev-parse", "HEAD").strip()
    ws = GitWorkspace(path, tmp_path / "wts")
    assert ws.resolve("main") == ws.resolve("HEAD") == first

    # perfsup work in the cache survives fetches, even if the remote has a
    # branch of the same name.
    wt = ws.add_worktree("1.1", "HEAD")
    (wt / "README").write_text("ours\n")
    ours = ws.commit_all(wt, "perfsup/1.1", "ours")
    git(repo, "push", "-q", str(origin), "HEAD~1:refs/heads/perfsup/1.1")

    (repo / "README").write_text("newer\n")
    git(repo, "commit", "-q", "-am", "third")
    git(repo, "push", "-q", str(origin), "main")
    second = git(repo, "rev-parse", "HEAD").strip()

    assert clone_or_fetch(url, cache) == path
    assert ws.resolve("main") == ws.resolve("HEAD") == second
    assert ws.branch_commit("perfsup/1.1") == ours
    assert sorted(p.name for p in cache.iterdir()) == [path.name]  # no temp leftovers


def test_a_replaced_dot_git_never_runs_its_config(
    repo: Path, ws: GitWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command replaced the worktree's .git with one whose config runs a script
    (core.fsmonitor, hooks): removing the worktree and reading its commit run no git there."""
    from perfsup.config import AccessRules
    from perfsup.engine.sources import SourceCache

    wt = ws.add_worktree("1.1", "HEAD")
    owned = tmp_path / "owned"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\necho owned > {owned}\n")
    script.chmod(0o755)
    evil = tmp_path / "evil"
    git(tmp_path, "init", "-q", str(evil))
    with (evil / ".git" / "config").open("a") as handle:
        handle.write(f"[core]\n\tfsmonitor = {script}\n\thooksPath = {tmp_path}\n")
    (wt / ".git").write_text(f"gitdir: {evil}/.git\n")
    monkeypatch.setenv("GIT_DIR", str(evil / ".git"))  # a hook's variable: scrubbed
    sha = ws.resolve("HEAD")
    sources = SourceCache().get(sha, repo, AccessRules(writable=["src"]))
    assert sources["src/fast.py"] == "def f():\n    return sum(range(10))\n"
    ws.remove_worktree(wt)
    assert not wt.exists() and not owned.exists()
    assert str(wt) not in git(repo, "worktree", "list")
    assert ws.add_worktree("1.1", "HEAD").is_dir()  # the name is free again


def test_a_perfsup_branch_checked_out_by_the_person_is_never_moved(
    repo: Path, ws: GitWorkspace
) -> None:
    first = ws.add_worktree("1.1", "HEAD")
    (first / "src" / "fast.py").write_text("X = 1\n")
    sha = ws.commit_all(first, "perfsup/1.1", "change")
    assert git(repo, "rev-parse", "perfsup/1.1").strip() == sha  # git reads the ref we wrote
    git(repo, "checkout", "-q", "perfsup/1.1")  # the person looks at the result
    again = ws.add_worktree("1.1-again", sha)
    (again / "src" / "fast.py").write_text("X = 2\n")
    with pytest.raises(RuntimeError, match=r"perfsup/1\.1 .*checked out"):
        ws.commit_all(again, "perfsup/1.1", "would move their checkout")
    assert git(repo, "rev-parse", "perfsup/1.1").strip() == sha
    assert "fast.py" not in git(repo, "status", "--porcelain")
