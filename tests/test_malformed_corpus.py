"""A corpus of malformed answers (tests/data) through the real engine.

Each answer ends its experiment in the status the corpus names, its text
is kept on the node for the person to read, and the engine carries on to
the next one: none of them ends or crashes the run.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from sqlmodel import select

from perfsup.store import Node, RunStatus
from tests.helpers import bench_sh_config, build_engine, make_repo

CORPUS = Path(__file__).parent / "data" / "malformed_answers.toml"
APP = (
    "def work(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
    "\n\ndef twice(n):\n    total = 0\n    return total\n"
)
GO = (
    "package fast\n\nfunc Sum(n int) int {\n\ttotal := 0\n\tfor i := 0; i < n; i++ {\n"
    "\t\ttotal += i\n\t}\n\treturn total\n}\n"
)


def test_every_malformed_answer_ends_in_its_status_and_the_run_goes_on(tmp_path: Path) -> None:
    cases = [
        c
        for c in tomllib.loads(CORPUS.read_text())["case"]
        if c.get("needs") is None or shutil.which(c["needs"])
    ]
    make_repo(
        tmp_path / "repo",
        {"src/app.py": APP, "src/fast.go": GO, "bench.sh": "echo METRIC t=1\n", "docs/x.md": "x"},
    )
    (tmp_path / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = '''{c['text']}'''\n\n" for c in cases)
    )
    config_path = tmp_path / "perfsup.toml"
    n = len(cases)
    config_path.write_text(
        bench_sh_config(
            model="max_retries = 0",
            tables=f"[budgets]\nmax_experiments = {n}\nmax_children = {n}\n"
            f"max_failures_in_a_row = {n}\n",
        )
    )
    engine = build_engine(config_path, tmp_path / "run")
    store = engine.store
    outcome = engine.run()
    with store.session() as s:
        nodes = {n.ordinal: n for n in s.exec(select(Node).where(Node.parent_id == "1")).all()}
    store.close()
    assert outcome.status == RunStatus.FINISHED
    assert outcome.reason.startswith("experiment budget reached")
    got = [(c["name"], nodes[i].status) for i, c in enumerate(cases, start=1)]
    assert got == [(c["name"], c["status"]) for c in cases]
    for index, case in enumerate(cases, start=1):
        node = nodes[index]
        assert node.answer_text.strip() == case["text"].strip(), case["name"]  # kept to read
        if case["status"] != "discarded":
            assert node.reason, case["name"]  # says why
    assert not (tmp_path / "outside.py").exists()
    assert (tmp_path / "repo" / "bench.sh").read_text() == "echo METRIC t=1\n"
