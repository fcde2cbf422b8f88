"""`perfsup run --flags-only` on the Go demo: no model, every experiment a build
flag set, built, measured and decided like any node (skipped without go)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.demo import prepare_demo
from perfsup.store import Node, open_store
from perfsup.workspace.buildflags import FLAGS_FILE, BadFlags, flag_env
from tests.helpers import perfsup

FLAG_SETS = '\n[flags]\nsets = [{gcflags = "-B"}, {ldflags = "-s"}]\n'


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("go") is None, reason="the Go demo needs the go tool")
def test_a_flags_only_run_records_each_flag_set_as_a_decided_node(tmp_path: Path) -> None:
    repo = prepare_demo(tmp_path, go=True)
    config = repo / "perfsup.toml"
    config.write_text(config.read_text() + FLAG_SETS)
    done = perfsup("run", "--flags-only", "--headless", "-c", str(config), "--seed", "5")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    store = open_store(tmp_path / "run" / "perfsup.db")
    with store.session() as s:
        nodes = {n.id: n for n in s.exec(select(Node)).all() if n.id != "1"}
    store.close()
    descriptions = sorted(n.description for n in nodes.values())
    assert "build flags: gcflags=-B" in descriptions
    assert "build flags: ldflags=-s" in descriptions
    for node in nodes.values():
        assert node.description.startswith("build flags: ")
        assert node.status in ("kept", "discarded"), (node.id, node.status, node.reason)
        assert node.decision_json  # decided by the keep rule, like any node
        assert FLAGS_FILE in node.diff  # exported as a note of the flags
    first = next(n for n in nodes.values() if n.description == "build flags: gcflags=-B")
    build_log = (tmp_path / "run" / "logs" / first.id / "build.log").read_text()
    assert "GOFLAGS=-gcflags=-B" in build_log  # the set reached the build


def test_flag_sets_are_checked_with_one_line_reasons() -> None:
    assert flag_env({"gcflags": "-B", "goamd64": "v3"}) == {
        "GOFLAGS": "-gcflags=-B",
        "GOAMD64": "v3",
    }
    assert flag_env({"opt_level": "3", "lto": "true"})["CFLAGS"] == "-O3 -flto"
    for bad, says in [
        ({"gcflags": "-N -l"}, "cannot hold a space"),
        ({"goamd64": "v9"}, "expected v1, v2, v3 or v4"),
        ({"opt": "3"}, "unknown build flag 'opt'"),
        ({"target_cpu": "native; rm -rf ~"}, "only letters"),
    ]:
        with pytest.raises(BadFlags, match=says):
            flag_env(bad)


MODEL_FLAGS = """[[answer]]
text = '''
DESCRIPTION: build at -O3
RATIONALE: the hot loop is compiled without optimisation
perfsup-build-flags.toml
<<<<<<< SEARCH
# no build flags yet
=======
opt_level = "3"
>>>>>>> REPLACE
'''
"""


def test_a_model_may_propose_a_flag_set_where_the_rules_let_it(tmp_path: Path) -> None:
    from tests.helpers import bench_sh_config, build_engine, make_repo

    # the benchmark is faster exactly when the build's CFLAGS say -O3
    bench = 'if [ "$CFLAGS" = "-O3" ]; then echo "METRIC t=1"; else echo "METRIC t=2"; fi\n'
    files = {"src/app.c": "int main(void) { return 0; }\n", "bench.sh": bench}
    # a committed, writable flags file lets the model propose flag sets
    make_repo(tmp_path / "repo", {**files, FLAGS_FILE: "# no build flags yet\n"})
    (tmp_path / "answers.toml").write_text(MODEL_FLAGS)
    config = bench_sh_config(tables="[budgets]\nmax_experiments = 1\n").replace(
        'writable = ["src"]', 'writable = ["src", "perfsup-build-flags.toml"]'
    )
    (tmp_path / "perfsup.toml").write_text(config)
    engine = build_engine(tmp_path / "perfsup.toml", tmp_path / "run")
    try:
        engine.run()
        with engine.store.session() as s:
            node = s.get(Node, "1.1")
            assert node is not None
            status, description, diff = node.status, node.description, node.diff
    finally:
        engine.store.close()
    assert (status, description) == ("kept", "build at -O3"), node.reason
    assert FLAGS_FILE in diff
    prompt = (tmp_path / "run" / "logs" / "1.1" / "prompt.log").read_text()
    assert f"you may propose build flags: write {FLAGS_FILE}" in prompt
