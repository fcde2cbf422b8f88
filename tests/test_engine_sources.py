"""The sources the model sees, read once per parent commit."""

from pathlib import Path

from perfsup.config import AccessRules
from perfsup.engine.sources import MAX_SOURCE_BYTES, SourceCache
from tests.helpers import git, make_repo


def test_same_commit_new_rules_reads_afresh_and_callers_cannot_spoil_it(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "src/a.py": "A = 1\n",
            "lib/b.py": "B = 2\n",
            "src/big.py": "#" * (MAX_SOURCE_BYTES + 1),
            "src/secret.py": "KEY = 3\n",
        },
    )
    sha = git(repo, "rev-parse", "HEAD")
    cache = SourceCache()
    narrow = AccessRules(writable=["src/"], hidden=["src/secret.py"])
    wide = AccessRules(writable=["src/", "lib/"], hidden=["src/secret.py"])

    first = cache.get(sha, repo, narrow)
    assert first == {"src/a.py": "A = 1\n"}  # too big and hidden files left out
    first["src/a.py"] = "spoiled"  # a caller reorders or edits its copy
    assert cache.get(sha, repo, narrow) == {"src/a.py": "A = 1\n"}
    # a config reload that widens the rules sees the new files at once
    assert cache.get(sha, repo, wide) == {"src/a.py": "A = 1\n", "lib/b.py": "B = 2\n"}


def test_without_a_commit_the_worktree_is_read_each_time(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"src/a.py": "A = 1\n"})
    cache = SourceCache()
    rules = AccessRules(writable=["src/"])
    assert cache.get(None, repo, rules) == {"src/a.py": "A = 1\n"}
    (repo / "src" / "a.py").write_text("A = 2\n")
    assert cache.get(None, repo, rules) == {"src/a.py": "A = 2\n"}
