"""Access rules on a real git worktree, with real symlinks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from perfsup.config.model import AccessRules
from perfsup.workspace.access import AccessDenied, check_edit_path, is_hidden, visible_files

RULES = AccessRules(
    writable=["src/", "lib"],
    protected=["src/bench.py", "src/checks"],
    hidden=["src/secrets", "*.pem"],
)
EXTRA = ["perfsup.toml", "scripts/check.sh"]


@pytest.fixture
def wt(tmp_path: Path) -> Path:
    """A git checkout with tracked files, a secret, and an outside folder nearby."""
    root = tmp_path / "wt"
    files = {
        "README": "hi\n",
        "perfsup.toml": "[target]\n",
        "src/fast.py": "X = 1\n",
        "src/bench.py": "print('METRIC t=1')\n",
        "src/checks/test_x.py": "def test(): pass\n",
        "src/secrets/key.txt": "s3cret\n",
        "src/cert.pem": "PEM\n",
        "src/pkg/mod.py": "Y = 2\n",
        "lib/util.py": "Z = 3\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.py").write_text("V = 0\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return root


def denied(wt: Path, path: str, rules: AccessRules = RULES) -> str:
    with pytest.raises(AccessDenied) as info:
        check_edit_path(wt, path, rules, EXTRA)
    msg = str(info.value)
    assert "\n" not in msg and "refused" in msg
    return msg


def test_allowed_paths_resolve_inside(wt: Path) -> None:
    assert check_edit_path(wt, "src/fast.py", RULES, EXTRA) == (wt / "src/fast.py").resolve()
    assert check_edit_path(wt, "./src/pkg/mod.py", RULES) == (wt / "src/pkg/mod.py").resolve()
    assert check_edit_path(wt, "lib/util.py", RULES).is_absolute()
    # A new file in a new folder is fine.
    assert check_edit_path(wt, "src/new/thing.py", RULES) == (wt / "src/new/thing.py").resolve()
    # A symlink that stays inside and lands on a writable file is fine.
    (wt / "src" / "alias.py").symlink_to("fast.py")
    assert check_edit_path(wt, "src/alias.py", RULES) == (wt / "src/fast.py").resolve()


def test_absolute_and_dotdot_refused(wt: Path) -> None:
    assert "absolute" in denied(wt, str(wt / "src" / "fast.py"))
    assert "absolute" in denied(wt, "/etc/passwd")
    assert "'..'" in denied(wt, "src/../src/fast.py")  # even if it would land inside
    assert "'..'" in denied(wt, "../outside/victim.py")
    assert "empty" in denied(wt, "")
    assert "control" in denied(wt, "src/a\nb.py")


def test_outside_writable_refused(wt: Path) -> None:
    msg = denied(wt, "README")
    assert msg.startswith("README:") and "writable" in msg and "'src/'" in msg
    assert "writable" in denied(wt, "srcx/fast.py")  # a prefix of a name is not a folder
    assert "writable" in denied(wt, "Src/fast.py")


def test_protected_refused(wt: Path) -> None:
    assert "protected" in denied(wt, "src/bench.py")
    assert "protected" in denied(wt, "src/checks/test_x.py")
    everything = AccessRules(writable=["."])
    assert "perfsup.toml" in denied(wt, "perfsup.toml", everything)
    assert "protected" in denied(wt, "scripts/check.sh", everything)
    assert check_edit_path(wt, "README", everything) == (wt / "README").resolve()


def test_hidden_refused(wt: Path) -> None:
    assert "hidden" in denied(wt, "src/secrets/key.txt")
    assert "hidden" in denied(wt, "src/cert.pem")
    assert "hidden" in denied(wt, "src/deep/er/other.pem")


def test_git_dir_refused(wt: Path) -> None:
    everything = AccessRules(writable=["."])
    assert ".git" in denied(wt, ".git/config", everything)
    assert ".git" in denied(wt, "src/.git/hooks/pre-commit")
    assert ".git" in denied(wt, "src/.GIT/config")


def test_symlinked_file_to_outside_refused(wt: Path, tmp_path: Path) -> None:
    # Allowed while it is a regular file ...
    check_edit_path(wt, "src/fast.py", RULES)
    # ... refused once it is swapped for a symlink leading out.
    (wt / "src" / "fast.py").unlink()
    (wt / "src" / "fast.py").symlink_to(tmp_path / "outside" / "victim.py")
    msg = denied(wt, "src/fast.py")
    assert msg.startswith("src/fast.py:") and "outside the worktree" in msg


def test_symlinked_folder_to_outside_refused(wt: Path, tmp_path: Path) -> None:
    (wt / "src" / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert "outside the worktree" in denied(wt, "src/escape/victim.py")
    assert "outside the worktree" in denied(wt, "src/escape/new_file.py")
    # Relative link, deeper in the path.
    (wt / "src" / "pkg" / "up").symlink_to(Path("..") / ".." / ".." / "outside")
    assert "outside the worktree" in denied(wt, "src/pkg/up/victim.py")


def test_symlink_inside_to_forbidden_file_refused(wt: Path) -> None:
    (wt / "src" / "to_bench.py").symlink_to("bench.py")
    assert "protected" in denied(wt, "src/to_bench.py")
    (wt / "src" / "to_readme").symlink_to(Path("..") / "README")
    assert "writable" in denied(wt, "src/to_readme")
    (wt / "src" / "to_git").symlink_to(Path("..") / ".git", target_is_directory=True)
    assert ".git" in denied(wt, "src/to_git/config")


def test_folder_refused(wt: Path) -> None:
    assert "folder" in denied(wt, "src/pkg")


def test_is_hidden() -> None:
    assert is_hidden("src/secrets/key.txt", RULES)
    assert is_hidden("src/secrets", RULES)
    assert is_hidden("anything/x.pem", RULES)
    assert is_hidden(".git/config", RULES)
    assert is_hidden("/etc/passwd", RULES)
    assert is_hidden("../x", RULES)
    assert not is_hidden("src/fast.py", RULES)
    assert not is_hidden("src/secretsauce.py", RULES)
    assert not is_hidden("README", RULES)


def test_visible_files(wt: Path, tmp_path: Path) -> None:
    (wt / "src" / "untracked.py").write_text("U = 1\n")
    os.symlink(tmp_path / "outside" / "victim.py", wt / "src" / "link_out.py")
    os.symlink("secrets/key.txt", wt / "src" / "link_secret.txt")
    subprocess.run(
        ["git", "-C", str(wt), "add", "src/link_out.py", "src/link_secret.txt"], check=True
    )
    assert visible_files(wt, RULES) == [
        "lib/util.py",
        "src/bench.py",
        "src/checks/test_x.py",
        "src/fast.py",
        "src/pkg/mod.py",
    ]
