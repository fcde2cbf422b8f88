"""`perfsup run --continue`: a run that ended goes on with more budget (issue 18).

The real command line in child processes, on a real git repository, real
benchmark processes and a real store; the second `run` resumes run 1 with
the budget raised by what was granted."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import col, select

from perfsup.cli.ctl import command_args
from perfsup.store import Event, Node, Run, open_store
from tests.helpers import make_repo, perfsup
from tests.test_cli import BENCH


def answer(i: int) -> str:
    return (
        f"[[answer]]\ntext = '''\nDESCRIPTION: set X to {i}\nsrc/app.py\n<<<<<<< SEARCH\n"
        f"X = 1\n=======\nX = {i}\n>>>>>>> REPLACE\n'''\n\n"
    )


def target(tmp_path: Path) -> Path:
    make_repo(tmp_path / "repo", {"src/app.py": "X = 1\n", "bench.py": BENCH})
    (tmp_path / "answers.toml").write_text("".join(answer(i) for i in range(2, 7)))
    (tmp_path / "perfsup.toml").write_text(
        '[target]\nrepo = "repo"\ngoal = "g"\n'
        '[bench]\nrun = "python bench.py"\npairs = 3\nwarmup = 0\n'
        '[[metrics]]\nname = "t"\n[access]\nwritable = ["src"]\n'
        '[model]\nbackend = "scripted"\nscript = "answers.toml"\n'
        '[run]\ndir = "rundir"\n[budgets]\nmax_experiments = 1\nmax_children = 9\n'
    )
    return tmp_path / "rundir"


def run_row(run_dir: Path) -> tuple[Run, list[str], list[Event]]:
    store = open_store(run_dir / "perfsup.db")
    try:
        with store.session() as s:
            run = s.get(Run, 1)
            assert run is not None
            nodes = s.exec(select(Node.id).where(col(Node.parent_id).is_not(None))).all()
            events = list(s.exec(select(Event).where(Event.kind == "run_resumed")).all())
            return run, sorted(nodes), events
    finally:
        store.close()


def test_a_finished_run_continues_with_the_experiments_granted(tmp_path: Path) -> None:
    run_dir = target(tmp_path)
    first = perfsup("run", "--headless", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "experiment budget reached (1 of 1)" in first.stdout
    again = perfsup("run", "--headless", cwd=tmp_path)  # without --continue: ends at once
    assert "experiment budget reached (1 of 1)" in again.stdout

    more = perfsup("run", "--headless", "--continue", "--more-experiments", "2", cwd=tmp_path)
    assert more.returncode == 0, more.stdout + more.stderr
    assert "run 1 continues: up to 3 experiments (2 more)" in more.stdout
    assert "experiment budget reached (3 of 3)" in more.stdout
    run, nodes, events = run_row(run_dir)
    assert run.status == "finished" and nodes == ["1.1", "1.2", "1.3"]
    assert [e.actor for e in events if "continues" in e.message] == ["human"]
    saved = json.loads((run_dir / "overrides.json").read_text())
    assert saved["budgets"]["max_experiments"] == 3


def test_continue_refusals_are_one_line(tmp_path: Path) -> None:
    target(tmp_path)
    nothing = perfsup("run", "--headless", "--continue", cwd=tmp_path)
    assert nothing.returncode == 2 and "nothing to continue" in nothing.stderr
    alone = perfsup("run", "--headless", "--more-experiments", "3", cwd=tmp_path)
    assert alone.returncode == 2 and "go with --continue" in alone.stderr
    assert perfsup("run", "--headless", cwd=tmp_path).returncode == 0
    zero = perfsup("run", "--headless", "--continue", "--more-experiments", "0", cwd=tmp_path)
    assert zero.returncode == 2 and "at least 1" in zero.stderr
    for done in (nothing, alone, zero):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_ctl_unprune_names_a_node_or_the_last_prune() -> None:
    from perfsup.cli import build_parser

    parser = build_parser()
    assert command_args(parser.parse_args(["ctl", "unprune"])) == {}
    assert command_args(parser.parse_args(["ctl", "unprune", "1.3"])) == {"node": "1.3"}
