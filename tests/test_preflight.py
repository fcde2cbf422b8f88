"""The preflight: a run that cannot work stops before any model call, with one
line and exit status 2; `perfsup check` prints what a night will look like.

Real git repositories, real bench subprocesses in the real sandbox, a real
SQLite store; the model is the scripted backend or the Ollama test server.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers import bench_sh_config, git, make_repo, perfsup
from tests.ollama_server import FakeModel, OllamaTestServer, free_port

ANSWER = (
    "[[answer]]\ntext = '''\nDESCRIPTION: loop less\nsrc/app.py\n<<<<<<< SEARCH\n"
    "    return sum(range(n))\n=======\n    return n * (n - 1) // 2\n>>>>>>> REPLACE\n'''\n"
)
APP = "def work(n):\n    return sum(range(n))\n"
GOOD_BENCH = "echo 'METRIC t=1.5'\n"


def target(tmp_path: Path, bench: str, *, model: str = "", tables: str = "") -> Path:
    """A target folder: repo/ with bench.sh, perfsup.toml, answers.toml."""
    make_repo(tmp_path / "repo", {"src/app.py": APP, "bench.sh": bench})
    (tmp_path / "answers.toml").write_text(ANSWER)
    config = bench_sh_config(model=model, tables=tables)
    if model.startswith("backend"):  # another backend than the scripted one
        config = config.replace('backend = "scripted"\nscript = "answers.toml"\n', "")
    (tmp_path / "perfsup.toml").write_text(config)
    return tmp_path


def run_headless(folder: Path) -> tuple[int, str, str]:
    done = perfsup("run", "--headless", "-c", "perfsup.toml", "--run-dir", "run", cwd=folder)
    return done.returncode, done.stdout, done.stderr


def model_calls(folder: Path) -> int:
    with sqlite3.connect(folder / "run" / "perfsup.db") as con:
        return int(con.execute("SELECT count(*) FROM modelcall").fetchone()[0])


@pytest.mark.parametrize(
    ("bench", "said"),
    [
        ("echo 'all done, no figures'\n", "printed no value for metric 't'"),
        ("echo 'METRIC t=1'; echo 'oops' >&2; exit 1\n", "exited with status 1 (expected 0)"),
        ("echo 'METRIC t=abc'\n", "'abc' is not a number"),
        ("echo 'METRIC time_ms=3'\n", "printed no value for metric 't'"),
        (
            "echo 'METRIC t=0'\n",
            'for a count with a natural zero set scale = "diff"',
        ),
    ],
    ids=["no-metric-line", "exit-1", "not-a-number", "other-metric", "zero"],
)
def test_a_broken_bench_stops_at_preflight_with_no_model_call(
    tmp_path: Path, bench: str, said: str
) -> None:
    folder = target(tmp_path, bench)
    code, out, err = run_headless(folder)
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("perfsup: preflight failed: bench `bash bench.sh`")
    assert said in lines[0]
    assert model_calls(folder) == 0
    assert "proposing" not in out  # no experiment started


def test_a_count_of_zero_passes_the_preflight(tmp_path: Path) -> None:
    # allocs/op 0 is a real value (the most common Go win ends there): a metric on
    # the difference scale takes it; the ratio scale would name the fix instead
    folder = target(tmp_path, "echo 'METRIC t=0'\n")
    config = folder / "perfsup.toml"
    config.write_text(config.read_text().replace('name = "t"\n', 'name = "t"\nscale = "diff"\n'))
    done = perfsup("check", "-c", "perfsup.toml", "--run-dir", "run", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "preflight passed" in done.stdout


def test_a_failing_check_stops_at_preflight_naming_the_command(tmp_path: Path) -> None:
    folder = target(tmp_path, GOOD_BENCH, tables='[check]\nrun = "echo 2 tests failed; false"\n')
    code, out, err = run_headless(folder)
    assert code == 2, out + err
    assert "check `echo 2 tests failed; false` on the baseline exited with status 1" in err
    assert "'2 tests failed'" in err  # what came out
    assert model_calls(folder) == 0
    # the bench never ran: the first failure ends the preflight
    assert not (folder / "run" / "logs" / "preflight" / "bench.log").exists()


def test_a_check_needing_a_file_git_ignores_names_that_file(tmp_path: Path) -> None:
    """setuptools-scm / hatch-vcs projects import a generated, ignored `_version.py`:
    present in the person's checkout, absent from a clean one."""
    check = "test -f src/_version.py || { echo 'ModuleNotFoundError: _version'; exit 1; }"
    folder = target(tmp_path, GOOD_BENCH, tables=f'[check]\nrun = "{check}"\n')
    repo = folder / "repo"
    (repo / ".gitignore").write_text("src/_version.py\n.venv/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore the generated version")
    (repo / "src" / "_version.py").write_text("version = '1.0'\n")  # their build made it
    (repo / ".venv" / "lib").mkdir(parents=True)
    (repo / ".venv" / "lib" / "site.py").write_text("")  # an ignored folder never counts
    code, out, err = run_headless(folder)
    assert code == 2, out + err
    assert "it printed: 'ModuleNotFoundError: _version'" in err
    assert "your checkout has src/_version.py (ignored by git)" in err
    assert "site.py" not in err


def test_perfsup_check_reports_noise_and_the_night(tmp_path: Path) -> None:
    folder = target(tmp_path, GOOD_BENCH, tables="[budgets]\nmax_experiments = 7\n")
    done = perfsup("check", "-c", "perfsup.toml", "--run-dir", "run", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "answer file answers.toml parses: 1 answer\n" in out
    assert "bench:  `bash bench.sh` ran" in out
    assert "metric t (lower is better): median 1.5" in out
    # identical figures: no noise, a 2% change is detectable at the 3 configured pairs
    assert "noise t: floor 0.0% at 3 pairs, below min_effect 2.0%" in out
    assert "one experiment: about" in out and "max_experiments = 7 ends the run first" in out
    assert "preflight passed" in out
    assert not (folder / "run" / "perfsup.db").exists()  # check alone stores nothing


NOISY_BENCH = 'echo "METRIC t=$((100 + RANDOM % 60))"\n'


@pytest.mark.parametrize(
    ("on_noise", "said"),
    [
        ("extend", "pairs, more than the 6 allowed (decision.max_pairs): the run will use 6"),
        ("raise", "the keep threshold will be raised from 2.0% to about"),
    ],
)
def test_a_noisy_bench_says_what_the_guard_will_do_and_what_helps(
    tmp_path: Path, on_noise: str, said: str
) -> None:
    folder = target(tmp_path, NOISY_BENCH, tables=f'[decision]\non_noise = "{on_noise}"\n')
    done = perfsup("check", "-c", "perfsup.toml", "--run-dir", "run", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    noise = next(line for line in done.stdout.splitlines() if "noise t:" in line)
    assert "is above min_effect 2.0%" in noise
    assert said in noise and f"(on_noise = {on_noise})" in noise
    assert "what would help: bench.pairs = " in done.stdout
    assert "a quieter machine" in done.stdout and "a longer bench" in done.stdout


def test_the_headless_run_starts_with_the_preflight_report(tmp_path: Path) -> None:
    folder = target(tmp_path, GOOD_BENCH)
    code, out, err = run_headless(folder)
    assert code == 0, out + err
    lines = out.splitlines()
    first_engine_line = next(i for i, line in enumerate(lines) if line.startswith("run 1:"))
    noise = next(i for i, line in enumerate(lines) if "noise t:" in line)
    assert noise < first_engine_line
    assert model_calls(folder) == 1


def test_ollama_down_stops_at_preflight_before_building(tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    folder = target(
        tmp_path, GOOD_BENCH, model=f'backend = "ollama"\nname = "m:7b"\nhost = "{host}"\n'
    )
    code, out, err = run_headless(folder)
    assert code == 2, out + err
    assert f"model ollama:m:7b: the Ollama server at {host} does not answer" in err
    assert "ollama serve" in err and len(err.strip().splitlines()) == 1
    assert not (folder / "run" / "logs" / "preflight").exists()  # nothing was built or run
    assert model_calls(folder) == 0


def test_ollama_without_the_model_names_the_pull(tmp_path: Path) -> None:
    with OllamaTestServer() as server:
        server.state.models["other:1b"] = FakeModel(chunks=["x"])
        folder = target(
            tmp_path,
            GOOD_BENCH,
            model=f'backend = "ollama"\nname = "m:7b"\nhost = "{server.host}"\n',
        )
        done = perfsup("check", "-c", "perfsup.toml", "--run-dir", "run", cwd=folder)
        assert server.state.requests == []  # no chat: no tokens spent
    assert done.returncode == 2, done.stdout + done.stderr
    assert "has no model 'm:7b' (installed: other:1b); run `ollama pull m:7b`" in done.stderr


def test_ollama_with_the_model_passes(tmp_path: Path) -> None:
    with OllamaTestServer() as server:
        server.state.models["m:7b"] = FakeModel(chunks=["x"])
        folder = target(
            tmp_path,
            GOOD_BENCH,
            model=f'backend = "ollama"\nname = "m:7b"\nhost = "{server.host}"\n',
        )
        done = perfsup("check", "-c", "perfsup.toml", "--run-dir", "run", cwd=folder)
        assert server.state.requests == []
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Ollama at {server.host} answers and has m:7b pulled" in done.stdout


def test_a_detached_run_fails_its_preflight_at_the_terminal(tmp_path: Path) -> None:
    folder = target(tmp_path, "exit 3\n")
    done = perfsup("run", "-c", "perfsup.toml", "--run-dir", "run", cwd=folder)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "preflight failed: bench `bash bench.sh`" in done.stderr
    assert "exited with status 3" in done.stderr
    assert "engine started" not in done.stdout  # no engine was started in the background
    assert not (folder / "run" / "perfsup.db").exists()
