"""Profiling inputs: Go escape analysis and cProfile top functions, parsed from
real tool output and stored as artifacts of the parent node by the engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.config import load_config
from perfsup.engine.loop import _command_env
from perfsup.engine.profiling import profile_parent
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.profiles.escape import parse_escape
from perfsup.metrics.profiles.pyprofile import top_functions
from perfsup.store import Artifact, Node, Run, open_store
from perfsup.workspace.executor import LocalExecutor
from tests.conftest import git

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
        env=_command_env(tmp_path / "bin"),
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
        **_command_env(tmp_path / "bin"),
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
