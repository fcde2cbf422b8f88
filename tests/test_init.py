"""`perfsup init` on real repositories, through the real command line: the bench
a person would pick, the baseline commit said, uncommitted work named, a folder
that is not a git repository refused, and the pairs set from measured noise."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from perfsup.config import load_config
from tests.helpers import git, make_repo, perfsup

BENCH_PY = """\
import time
from pkg.core import work

start = time.perf_counter()
for _ in range(200):
    work(1000)
elapsed = time.perf_counter() - start
print(f"METRIC time_ms={elapsed * 1e3:.3f}")
print(f"METRIC ops_per_s={200 / elapsed:.1f}")
"""
PYPROJECT = '[project]\nname = "pkg"\nversion = "0.1"\n'
CORE = "def work(n):\n    return sum(range(n))\n"
TEST = "from pkg.core import work\n\ndef test_work():\n    assert work(4) == 6\n"


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """init measures in the run folder it will use: under the state folder, here a temp one."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def python_repo(path: Path, extra: dict[str, str]) -> Path:
    files = {"pyproject.toml": PYPROJECT, "pkg/__init__.py": "", "pkg/core.py": CORE}
    files.update({"tests/test_core.py": TEST, **extra})
    return make_repo(path, files)


def written(repo: Path) -> dict[str, Any]:
    return tomllib.loads((repo / "perfsup.toml").read_text(encoding="utf-8"))


def test_a_top_level_bench_py_with_metric_lines_is_chosen_and_protected(tmp_path: Path) -> None:
    repo = python_repo(tmp_path / "repo", {"bench.py": BENCH_PY})
    done = perfsup("init", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    raw = written(repo)
    assert raw["bench"]["run"] == "python bench.py"
    metrics = {m["name"]: m for m in raw["metrics"]}
    assert metrics["time_ms"]["direction"] == "lower" and metrics["time_ms"]["unit"] == "ms"
    assert metrics["ops_per_s"]["direction"] == "higher"
    assert "bench.py" in raw["access"]["protected"]
    assert raw["access"]["writable"] == ["pkg"]
    sha = git(repo, "rev-parse", "HEAD")[:12]
    assert f"baseline: {sha} (main: baseline)" in done.stdout
    assert "warning" not in done.stdout  # a clean checkout: nothing to warn about
    # the preflight ran the bench and chose the pairs from its noise
    assert raw["bench"]["pairs"] >= 10
    assert f"bench.pairs = {raw['bench']['pairs']}: the noise calls for" in done.stdout
    assert "noise time_ms: smallest effect detectable at" in done.stdout
    load_config(repo / "perfsup.toml")  # the text loads as written


def test_a_benchmarks_folder_script_is_timed_whole(tmp_path: Path) -> None:
    script = "from pkg.core import work\n\nif __name__ == '__main__':\n    work(10000)\n"
    repo = python_repo(tmp_path / "repo", {"benchmarks/run_all.py": script})
    done = perfsup("init", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    raw = written(repo)
    assert "python -m benchmarks.run_all" in raw["bench"]["run"]
    assert raw["metrics"][0]["name"] == "wall_ms"
    assert "benchmarks" in raw["access"]["protected"]
    # the timing wrapper really runs in the sandbox and prints its METRIC line
    assert "bench.pairs = " in done.stdout and "preflight failed" not in done.stdout


def test_pytest_benchmark_tests_in_benchmarks_read_their_json(tmp_path: Path) -> None:
    test = "from pkg.core import work\n\ndef test_work(benchmark):\n    benchmark(work, 100)\n"
    repo = python_repo(tmp_path / "repo", {"benchmarks/test_speed.py": test})
    perfsup("init", str(repo))
    raw = written(repo)
    assert raw["bench"]["run"] == (
        "python -m pytest benchmarks --benchmark-only --benchmark-json=.perfsup-bench.json"
    )
    metric = raw["metrics"][0]
    assert metric["source"] == "pytest_benchmark" and metric["path"] == ".perfsup-bench.json"
    assert "benchmarks" in raw["access"]["protected"]


def test_uncommitted_changes_are_named_with_the_baseline(tmp_path: Path) -> None:
    repo = python_repo(tmp_path / "repo", {"bench.py": BENCH_PY})
    (repo / "pkg" / "core.py").write_text(CORE + "# faster soon\n")
    done = perfsup("init", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: 1 tracked file(s) have uncommitted changes (pkg/core.py)" in done.stdout
    assert "the baseline is the commit without them" in done.stdout


def test_a_folder_that_is_not_a_git_repository_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "bench.py").write_text(BENCH_PY)
    done = perfsup("init", str(folder))
    assert done.returncode == 2
    assert "is not the top folder of a git repository" in done.stderr
    assert "git init" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (folder / "perfsup.toml").exists()


def test_a_repository_without_a_commit_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    git(folder, "init", "-q")
    done = perfsup("init", str(folder))
    assert done.returncode == 2 and "has no commit yet" in done.stderr


def test_a_placeholder_bench_says_what_to_fix(tmp_path: Path) -> None:
    repo = python_repo(tmp_path / "repo", {})
    done = perfsup("init", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "preflight failed: bench `echo 'perfsup: set bench.run in perfsup.toml'" in done.stdout
    assert "then `perfsup check` runs the preflight again" in done.stdout


GO_MOD = "module example.com/sums\n\ngo 1.19\n"
GO_SRC = (
    "package sums\n\nfunc Sum(n int) int {\n\tt := 0\n"
    "\tfor i := 0; i < n; i++ {\n\t\tt += i\n\t}\n\treturn t\n}\n"
)
GO_TEST = """\
package sums

import "testing"

func TestSum(t *testing.T) {
\tif Sum(4) != 6 {
\t\tt.Fatal("Sum(4) != 6")
\t}
}

func BenchmarkSum(b *testing.B) {
\tfor i := 0; i < b.N; i++ {
\t\tSum(1000)
\t}
}
"""


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the go tool")
def test_a_go_module_uses_go_bench_and_leaves_the_person_s_go_caches_alone(
    tmp_path: Path,
) -> None:
    repo = make_repo(
        tmp_path / "gorepo", {"go.mod": GO_MOD, "sums.go": GO_SRC, "sums_test.go": GO_TEST}
    )
    done = perfsup("init", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    raw = written(repo)
    metric = raw["metrics"][0]
    assert metric["source"] == "go_bench" and metric["field"] == "ns/op"
    assert "BenchmarkSum" in (repo / "perfsup.toml").read_text()
    # each step gets a Go build cache of its own (decision 0210): none of the person's
    # caches is made writable for the code the model writes
    assert "sandbox" not in raw
    # build, check and go test -bench really ran in the sandbox
    assert "preflight failed" not in done.stdout
    assert "noise ns_op: smallest effect detectable at" in done.stdout
