"""Profiling inputs: Go escape analysis and cProfile top functions, parsed from
real tool output and stored as artifacts of the parent node by the engine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.config import load_config
from perfsup.engine.profiling import profile_parent
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.profiles.escape import parse_escape
from perfsup.metrics.profiles.pyprofile import top_functions
from perfsup.store import Artifact, Node, Run, open_store
from perfsup.workspace.command_env import command_env
from perfsup.workspace.executor import LocalExecutor
from tests.helpers import build_engine, git

DATA = Path(__file__).parent / "data" / "metrics"
DEMO = Path(__file__).resolve().parent.parent / "perfsup" / "demo" / "target"


def test_escape_analysis_records_from_real_output() -> None:
    notes = parse_escape((DATA / "go_escape.txt").read_text())
    assert [(n.file, n.line, n.message) for n in notes] == [
        ("sum.go", 3, "can inline Sum"),
        ("sum.go", 11, "can inline Box"),
        ("sum.go", 3, "xs does not escape"),
        ("sum.go", 12, "moved to heap: xs"),
        ("sum.go", 12, "make([]int, n) escapes to heap"),
    ]
    assert [n.to_heap for n in notes] == [False, False, False, True, True]
    assert parse_escape("") == []
    with pytest.raises(MetricParseError, match="go build -gcflags=-m failed"):
        parse_escape("go: error: no Go files in /x\n")


def test_truncated_profile_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "p.out"
    bad.write_bytes(b"\xfb\x00\x01")
    with pytest.raises(MetricParseError, match=r"cannot read the profile p\.out"):
        top_functions(bad)


def make_store(tmp_path: Path, repo: Path) -> object:
    store = open_store(tmp_path / "store.sqlite")
    with store.session() as s:
        s.add(
            Run(
                id=1,
                goal="g",
                config_toml="",
                repo_path=str(repo),
                baseline_commit="-",
                root_node_id="1",
            )
        )
    with store.session() as s:
        s.add(Node(id="1", run_id=1))
    return store


def artifacts(store: object) -> dict[str, object]:
    with store.session() as s:  # type: ignore[attr-defined]
        rows = s.exec(select(Artifact).where(Artifact.kind == "profile")).all()
        return {a.step: json.loads(Path(a.path).read_text()) for a in rows}


def test_engine_profiles_a_python_parent_once(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    git(tmp_path, "init", "-q", str(repo))
    config_path = repo / "perfsup.toml"
    config_path.write_text(
        config_path.read_text() + '\n[profile]\npython_script = "bench.py"\ntop = 5\n'
    )
    config = load_config(config_path)
    store = make_store(tmp_path, repo)
    with store.session() as s:  # type: ignore[attr-defined]
        node = s.get(Node, "1")
    kwargs = dict(
        config=config,
        store=store,
        executor=LocalExecutor(),
        env=command_env(tmp_path / "bin"),
        node=node,
        workdir=repo,
        out_dir=tmp_path / "profile",
    )
    profile_parent(**kwargs)  # type: ignore[arg-type]
    hot = artifacts(store)["cprofile"]
    assert isinstance(hot, list) and len(hot) == 5
    assert hot[0]["function"] == "unknown_words"  # the quadratic loop of the demo
    assert hot[0]["file"] == "textstats/core.py" and hot[0]["self_s"] > 0
    assert not (repo / ".perfsup-profile.out").exists()
    profile_parent(**kwargs)  # type: ignore[arg-type]
    with store.session() as s:  # type: ignore[attr-defined]
        stored = s.exec(select(Artifact)).all()
        assert [a.kind for a in stored if a.kind == "profile"] == ["profile"]  # once per node
        perf = [a for a in stored if a.step == "perf"]  # what the TUI's Perf tab shows
        assert len(perf) == 1 and "unknown_words" in Path(perf[0].path).read_text()


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_engine_stores_go_escape_analysis(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(DATA / "gob_src", repo)
    git(tmp_path, "init", "-q", str(repo))
    (repo / "bench.sh").write_text("echo 'METRIC t=1'\n")
    config_path = repo / "perfsup.toml"
    config_path.write_text(
        '[target]\ngoal = "g"\n[bench]\nrun = "sh bench.sh"\n[[metrics]]\nname = "t"\n'
        '[access]\nwritable = ["sum.go"]\n[model]\nbackend = "scripted"\nscript = "bench.sh"\n'
        '[profile]\ngo_escape = "./..."\n'
    )
    config = load_config(config_path)
    store = make_store(tmp_path, repo)
    with store.session() as s:  # type: ignore[attr-defined]
        node = s.get(Node, "1")
    env = {
        **command_env(tmp_path / "bin"),
        "GOCACHE": str(tmp_path / "gocache"),
        "GOFLAGS": "-mod=mod",
    }
    profile_parent(
        config=config,
        store=store,
        executor=LocalExecutor(),
        env=env,
        node=node,
        workdir=repo,
        out_dir=tmp_path / "profile",
    )  # type: ignore[arg-type]
    notes = artifacts(store)["go_escape"]
    assert {"file": "sum.go", "line": 12, "message": "moved to heap: xs", "to_heap": True} in notes  # type: ignore[operator]


def test_the_prompt_puts_the_profiles_hot_functions_first(tmp_path: Path) -> None:
    """Through the engine: the demo's parent is profiled, and the prompt of its
    first child names the hot function first, shows its file first, and lists
    its region first."""

    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "textstats" / "aaa.py").write_text("def cold():\n    return 1\n")
    git(tmp_path, "init", "-q", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "demo")
    config_path = repo / "perfsup.toml"
    text = config_path.read_text().replace("max_experiments = 5", "max_experiments = 1")
    text = text.replace('backend = "scripted"', 'backend = "scripted"\nedit_format = "region"')
    config_path.write_text(text + '\n[profile]\npython_script = "bench.py"\ntop = 8\n')
    engine = build_engine(config_path, tmp_path / "run")
    paths = engine.paths
    engine.run()
    prompt = paths.log("1.1", "prompt").read_text()
    section = prompt.split("## Profile of the code you are changing", 1)[1]
    first = section.splitlines()[1]
    assert first.startswith("- textstats/core.py:") and " unknown_words: " in first
    # the hot file before the cold one that sorts first by name; hot regions first
    assert prompt.index("### textstats/core.py") < prompt.index("### textstats/aaa.py")
    regions = prompt.split("## Regions you may rewrite", 1)[1].splitlines()
    assert regions[1] == "- textstats/core.py::unknown_words"
    # the profile comes after the source (it changes with the parent), before the history
    assert (
        prompt.index("### textstats/aaa.py")
        < prompt.index("## Profile")
        < prompt.index("## Line of inquiry")
    )


def test_hot_spots_keep_only_visible_files_and_rows_that_make_sense() -> None:
    from perfsup.agent.hotspots import hot_first, hot_regions, hot_spots, profile_section

    sources = {"a.py": "def f(): pass\n", "b.py": "def g(): pass\n"}
    rows = [
        {"file": "b.py", "line": 1, "function": "g", "calls": 3, "self_s": 0.5,
         "cumulative_s": 0.6},
        {"file": "/usr/lib/python3/re.py", "line": 9, "function": "sub", "calls": 1,
         "self_s": 0.9, "cumulative_s": 0.9},
        {"file": "a.py", "line": 1, "function": "f", "calls": 1, "self_s": 0.1,
         "cumulative_s": 0.1},
        {"file": "a.py", "line": "x"},
    ]  # fmt: skip
    spots = hot_spots(rows, sources)
    assert [s.function for s in spots] == ["g", "f"]
    assert list(hot_first(sources, spots)) == ["b.py", "a.py"]
    assert hot_regions(["a.py::f", "b.py::g", "b.py::h"], spots) == [
        "b.py::g",
        "a.py::f",
        "b.py::h",
    ]
    assert "- b.py:1 g: 83% of the time in itself" in profile_section(spots)
    assert profile_section([]) == ""


def test_python_in_a_command_is_perfsups_interpreter_with_its_packages(tmp_path: Path) -> None:
    """`python` in build, check and bench is the interpreter running perfsup, inside
    its virtualenv (a plain link to a venv's python would start the bare one)."""
    env = command_env(tmp_path / "bin")
    done = subprocess.run(
        ["python", "-c", "import sys, pytest; print(sys.prefix)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == sys.prefix
