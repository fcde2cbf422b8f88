"""A Go CPU profile (`[profile] go_pprof`): pprof's traces read into hot
functions, made by the engine from the bundled Go demo's benchmark, and shown
in the prompt as code slices like cProfile's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.config import load_config
from perfsup.engine.profiling import parent_profile, profile_parent
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.profiles.gopprof import go_hot_functions, module_path, source_name
from perfsup.store import Artifact, Event, Node
from perfsup.store.models import EventKind
from perfsup.workspace.command_env import command_env
from perfsup.workspace.executor import LocalExecutor
from perfsup.workspace.sandbox import SandboxExecutor
from tests.helpers import build_engine, git
from tests.test_profiles import artifacts, make_store

DATA = Path(__file__).parent / "data" / "metrics"
GO_DEMO = Path(__file__).resolve().parent.parent / "perfsup" / "demo" / "go_target"
needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")

# The demo's functions as the file has them: a slice must hold these lines whole.
SUM_COLUMNS = """func SumColumns(lines []string) []int {
	var sums []int
	for _, line := range lines {
		fields := splitFields(line)
		for i, field := range fields {
			for len(sums) <= i {
				sums = append(sums, 0)
			}
			sums[i] += atoi(field)
		}
	}
	return sums
}"""
SPLIT_FIELDS_HEAD = "func splitFields(line string) []string {\n\tfields := make([]string, 0,"


def test_hot_functions_from_captured_pprof_traces() -> None:
    text = (DATA / "go_pprof_traces.txt").read_text()
    rows = go_hot_functions(text, Path("/home/dev/linestat"), "example.com/linestat")
    assert [(r.file, r.function, r.line, r.calls) for r in rows] == [
        ("linestat.go", "splitFields", 25, 0),
        ("linestat.go", "atoi", 38, 0),
        ("linestat.go", "SumColumns", 12, 0),
    ]  # the benchmark (a _test.go file) and the runtime are not rows
    split, atoi, sums = rows
    # own time counts the runtime it calls: the allocation of `make` is splitFields'
    assert (split.self_s, split.cumulative_s) == (0.23, 0.23)
    assert (atoi.self_s, sums.self_s, sums.cumulative_s) == (0.03, 0.01, 0.27)
    assert go_hot_functions(text, Path("/home/dev/linestat"), top=1) == [split]
    with pytest.raises(MetricParseError, match="no sample ran code of /elsewhere"):
        go_hot_functions(text, Path("/elsewhere"))
    with pytest.raises(MetricParseError, match="no samples in the pprof traces"):
        go_hot_functions("File: x.test\nType: cpu\n", Path("/home/dev/linestat"))


def test_trimmed_paths_labels_methods_closures_and_recursion() -> None:
    text = """Duration: 1s, Total samples = 1.5s (150%)
-----------+-------------------------------------------------------
    worker:  a
       1.50s   runtime.memmove /usr/lib/go/src/runtime/memmove_amd64.s:100
               example.com/m/v2/words.(*Counter).Add example.com/m/v2/words/count.go:40 (inline)
               example.com/m/v2/words.walk.func1 example.com/m/v2/words/count.go:61
               example.com/m/v2/words.walk example.com/m/v2/words/count.go:58
               example.com/m/v2/words.walk example.com/m/v2/words/count.go:57
               runtime._ExternalCode
-----------+-------------------------------------------------------
       500ms   example.com/m/v2/words.walk example.com/m/v2/words/count.go:59
-----------+-------------------------------------------------------
"""
    rows = go_hot_functions(text, Path("/nowhere"), "example.com/m/v2")
    assert [(r.file, r.function, r.line, r.self_s, r.cumulative_s) for r in rows] == [
        ("words/count.go", "Counter.Add", 40, 1.5, 1.5),
        ("words/count.go", "walk", 57, 0.5, 2.0),  # its closure is its code; once per sample
    ]
    assert source_name("example.com/m/pkg.(*List[...]).Push") == "List.Push"
    assert source_name("example.com/m/pkg.Map[...]") == "Map"
    assert source_name("main.main") == "main"
    assert module_path('// x\nmodule "example.com/m/v2" // v2\n\ngo 1.19\n') == "example.com/m/v2"
    assert module_path("go 1.19\n") is None


def _go_demo(tmp_path: Path, profile: str) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(GO_DEMO, repo)
    config = repo / "perfsup.toml"
    config.write_text(config.read_text().replace('go_escape = "."', profile))
    git(tmp_path, "init", "-q", str(repo))
    return repo


def _profile(tmp_path: Path, repo: Path) -> object:
    store = make_store(tmp_path, repo)
    with store.session() as s:  # type: ignore[attr-defined]
        node = s.get(Node, "1")
    profile_parent(
        config=load_config(repo / "perfsup.toml"),
        store=store,  # type: ignore[arg-type]
        executor=LocalExecutor(),
        env={**command_env(tmp_path / "bin"), "GOCACHE": str(tmp_path / "gocache")},
        node=node,
        workdir=repo,
        out_dir=tmp_path / "profile",
    )
    return store


@needs_go
def test_engine_profiles_the_go_demos_benchmark(tmp_path: Path) -> None:
    repo = _go_demo(tmp_path, 'go_pprof = "./..."\ngo_benchtime = "300ms"')
    store = _profile(tmp_path, repo)
    rows = artifacts(store)["go_pprof"]
    assert isinstance(rows, list)
    # the demo's hot function: the slice it allocates per line costs most of the time
    assert rows[0]["function"] == "splitFields" and rows[0]["file"] == "linestat.go"
    by_total = max(rows, key=lambda r: r["cumulative_s"])
    assert by_total["function"] == "SumColumns"  # it calls the rest
    assert {r["function"] for r in rows} <= {"splitFields", "SumColumns", "atoi"}
    assert parent_profile(store, "1") == rows  # type: ignore[arg-type]
    perf = (tmp_path / "profile" / "perf.log").read_text()
    assert "Go CPU profile" in perf and "splitFields (linestat.go:" in perf
    assert (tmp_path / "profile" / "cpu.pprof").stat().st_size > 0  # kept for a person
    assert not (repo / ".perfsup-pprof").exists()
    assert not list(repo.glob("*.test"))


@needs_go
def test_a_go_profile_that_fails_is_an_event(tmp_path: Path) -> None:
    repo = _go_demo(tmp_path, 'go_pprof = "./..."')
    (repo / "linestat.go").write_text("package linestat\n\nfunc broken( {\n")
    store = _profile(tmp_path, repo)
    with store.session() as s:  # type: ignore[attr-defined]
        events = s.exec(select(Event).where(Event.kind == EventKind.PROFILE_FAILED)).all()
        stored = s.exec(select(Artifact).where(Artifact.kind == "profile")).all()
    assert len(events) == 1 and stored == []
    assert events[0].message.startswith("Go CPU profile of ./... failed: exited with status")
    assert not (repo / ".perfsup-pprof").exists()


@needs_go
def test_the_prompt_carries_the_go_hot_functions_whole(tmp_path: Path) -> None:
    """Through the engine and the sandbox: the Go demo's parent is profiled with pprof, and the
    prompt of its first child shows the hot functions of a long file whole, in a
    slice, not the cold code after them."""
    cold = "".join(
        f"\n// cold{i} is never called.\nfunc cold{i}(x int) int {{\n\treturn x + {i}\n}}\n"
        for i in range(60)
    )
    repo = _go_demo(tmp_path, 'go_pprof = "."\ngo_benchtime = "300ms"')
    (repo / "linestat.go").write_text((GO_DEMO / "linestat.go").read_text() + cold)
    config_path = repo / "perfsup.toml"
    text = config_path.read_text().replace("max_experiments = 3", "max_experiments = 1")
    text = text.replace("pairs = 14", "pairs = 3").replace("looks = [6, 10, 14]", "looks = [3]")
    text = text.replace("calibration_pairs = 10", "calibration_pairs = 0")
    config_path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "demo")
    config = load_config(config_path)
    run_dir = tmp_path / "run"
    box = SandboxExecutor(LocalExecutor(), config.sandbox, [run_dir], lambda _line: None)
    engine = build_engine(config_path, run_dir, executor=box)  # profiled in the box
    paths = engine.paths
    engine.run()
    prompt = paths.log("1.1", "prompt").read_text()
    section = prompt.split("## Profile of the code you are changing", 1)[1]
    first = section.splitlines()[1]
    assert first.startswith("- linestat.go:") and " splitFields: " in first
    assert SUM_COLUMNS in prompt and SPLIT_FIELDS_HEAD in prompt
    assert "return x + 30" not in prompt  # the cold code is outlined, not shown
