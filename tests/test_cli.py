"""The command line as a person uses it: init, run --headless, status."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import make_repo, perfsup

BENCH = (
    "import time\nt = time.perf_counter()\nsum(range(10**5))\n"
    "print(f'METRIC t={time.perf_counter() - t}')\n"
)


def test_init_writes_a_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": "[project]\nname='x'\n", "x/a.py": ""})
    first = perfsup("init", str(repo), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (repo / "perfsup.toml").is_file()
    second = perfsup("init", str(repo), cwd=tmp_path)
    assert second.returncode == 2
    assert "--force" in second.stderr and "Traceback" not in second.stderr
    third = perfsup("init", str(repo), "--force", cwd=tmp_path)
    assert third.returncode == 0


def test_run_headless_prints_a_line_per_step_and_status_shows_the_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"src/app.py": "X = 1\n", "bench.py": BENCH})
    (tmp_path / "answers.toml").write_text(
        "[[answer]]\ntext = '''\nDESCRIPTION: set X to 2\nsrc/app.py\n<<<<<<< SEARCH\nX = 1\n"
        "=======\nX = 2\n>>>>>>> REPLACE\n'''\n"
    )
    (tmp_path / "perfsup.toml").write_text(
        '[target]\nrepo = "repo"\ngoal = "g"\n'
        '[bench]\nrun = "python bench.py"\npairs = 3\nwarmup = 0\n'
        '[[metrics]]\nname = "t"\n'
        '[access]\nwritable = ["src"]\n'
        '[model]\nbackend = "scripted"\nscript = "answers.toml"\n'
        '[run]\ndir = "rundir"\n'
    )
    run = perfsup("run", "--headless", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("1.1") and "proposing" in line for line in lines)
    assert any(line.startswith("1.1") and "benchmarking 3 pairs" in line for line in lines)
    assert "run 1 finished: the scripted answer file" in run.stdout
    assert "has no answers left" in run.stdout
    assert (tmp_path / "rundir" / "perfsup.db").is_file()
    assert not (repo / "rundir").exists()

    status = perfsup("status", "--events", "5", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "set X to 2" in status.stdout
    assert "run_finished" in status.stdout
    # the folder to tail metrics.csv in, as the README says
    folder = status.stdout.split("run folder: ", 1)[1].split(" (", 1)[0]
    assert (Path(folder) / "metrics.csv").is_file()


def test_status_without_a_store_says_how_to_start(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", {"src/app.py": "X = 1\n"})
    (tmp_path / "answers.toml").write_text("[[answer]]\ntext = 'x'\n")
    (tmp_path / "perfsup.toml").write_text(
        '[target]\nrepo = "repo"\ngoal = "g"\n[bench]\nrun = "true"\n'
        '[[metrics]]\nname = "t"\n[access]\nwritable = ["src"]\n'
        '[model]\nbackend = "scripted"\nscript = "answers.toml"\n[run]\ndir = "rundir"\n'
    )
    done = perfsup("status", cwd=tmp_path)
    assert done.returncode == 1
    assert "no run store" in done.stderr and "perfsup run" in done.stderr
