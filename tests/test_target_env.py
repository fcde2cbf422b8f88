"""The target's own environment: `python` in build, check and bench is the
interpreter of the person's virtualenv for that repository (named by
`[target] venv`, found by `perfsup init`), shown read-only in the box; Go builds
get a writable cache of their own step folder. Real venvs, real git, real
bubblewrap, the real command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

from perfsup.config import ConfigError, load_config
from perfsup.config.model import SandboxSettings
from perfsup.engine.factory import run_command_env
from perfsup.engine.rundir import RunPaths
from perfsup.workspace.executor import LocalExecutor
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.sandbox import SandboxExecutor, detect_isolation
from tests.helpers import make_repo, perfsup

HAS_BWRAP = detect_isolation(SandboxSettings(kind="bwrap")).kind == "bwrap"
needs_bwrap = pytest.mark.skipif(not HAS_BWRAP, reason="needs a working bubblewrap")

BENCH = "import targetdep\nprint('METRIC t=%d' % targetdep.VALUE)\n"


def make_venv(folder: Path) -> Path:
    """A real virtualenv holding a module only it has: `targetdep`."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    purelib = sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)})
    Path(purelib).mkdir(parents=True, exist_ok=True)
    (Path(purelib) / "targetdep.py").write_text("VALUE = 7\n")
    return folder


def target(tmp_path: Path, venv: str | None = ".venv") -> Path:
    """A repository whose bench needs the venv's module; its config names the venv."""
    repo = make_repo(
        tmp_path / "repo",
        {"src/app.py": "X = 1\n", "bench.py": BENCH, ".gitignore": ".venv/\n"},
    )
    make_venv(repo / ".venv")
    (tmp_path / "answers.toml").write_text("[[answer]]\ntext = 'unused'\n")
    venv_line = f'venv = "{venv}"\n' if venv else ""
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            """
            [target]
            repo = "repo"
            goal = "faster"
            """
        )
        + venv_line
        + textwrap.dedent(
            """
            [check]
            run = "python -c 'import sys, targetdep; print(sys.prefix)'"
            [bench]
            run = "python bench.py"
            pairs = 10
            [[metrics]]
            name = "t"
            [access]
            writable = ["src"]
            protected = ["bench.py"]
            [model]
            backend = "scripted"
            script = "answers.toml"
            """
        )
    )
    return config


@needs_bwrap
def test_commands_run_with_the_target_s_venv_read_only_in_the_box(tmp_path: Path) -> None:
    config = load_config(target(tmp_path))
    repo = Path(config.target.repo)
    venv = repo / ".venv"
    paths = RunPaths(tmp_path / "run")
    env = run_command_env(paths, config, repo)
    box = SandboxExecutor(LocalExecutor(), config.sandbox, [paths.root], lambda _l: None)
    tree = GitWorkspace(repo, paths.worktrees).add_worktree("1", "HEAD")
    # (the repository and its venv live under /tmp, a private, empty folder in the box)
    done = box.run(
        "python -c 'import sys, targetdep; print(sys.prefix, targetdep.VALUE)'",
        tree,
        tmp_path / "py.log",
        60,
        env=env,
    )
    assert done.ok, done.stdout + done.stderr
    assert done.stdout.split() == [str(venv.resolve()), "7"]
    planted = box.run(f"touch {venv}/planted", tree, tmp_path / "plant.log", 60, env=env)
    assert not planted.ok
    assert not (venv / "planted").exists()


def test_without_a_venv_python_is_perfsup_s_own(tmp_path: Path) -> None:
    config = load_config(target(tmp_path, venv=None))
    paths = RunPaths(tmp_path / "run")
    env = run_command_env(paths, config, Path(config.target.repo))
    which = subprocess.run(
        ["python", "-c", "import sys; print(sys.executable)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # perfsup's own interpreter, started through the run folder's `python` script
    assert Path(which.stdout.strip()) == Path(sys.executable)
    assert "VIRTUAL_ENV" not in env or env["VIRTUAL_ENV"] != str(tmp_path / "repo" / ".venv")


def test_a_venv_that_is_not_one_is_a_one_line_config_error(tmp_path: Path) -> None:
    config = target(tmp_path, venv="nowhere")
    with pytest.raises(ConfigError, match=r"target.venv = 'nowhere': expected a virtualenv"):
        load_config(config)


@needs_bwrap
def test_check_reports_the_interpreter_and_passes_with_the_venv(tmp_path: Path) -> None:
    config = target(tmp_path)
    done = perfsup("check", "-c", str(config), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 0, done.stdout + done.stderr
    venv = (tmp_path / "repo" / ".venv").resolve()
    assert f"environment: python: {venv}/bin/python (target.venv)" in done.stdout, done.stdout


def test_init_names_the_repository_s_venv_or_says_python_is_perfsup_s(tmp_path: Path) -> None:
    with_venv = make_repo(tmp_path / "a", {"bench.py": BENCH, ".gitignore": ".venv/\n"})
    make_venv(with_venv / ".venv")
    done = perfsup("init", str(with_venv))
    assert done.returncode == 0, done.stdout + done.stderr
    text = (with_venv / "perfsup.toml").read_text()
    assert tomllib.loads(text)["target"]["venv"] == ".venv"
    load_config(with_venv / "perfsup.toml")
    without = make_repo(tmp_path / "b", {"bench.py": BENCH})
    done = perfsup("init", str(without))
    assert done.returncode == 0, done.stdout + done.stderr
    text = (without / "perfsup.toml").read_text()
    assert "venv" not in tomllib.loads(text)["target"]
    assert "`python` in the commands is\n# perfsup's own interpreter" in text


GO_MOD = "module example.com/tiny\n\ngo 1.19\n"
GO_SRC = (
    "package tiny\n\nfunc Sum(n int) int {\n\ts := 0\n"
    "\tfor i := 0; i < n; i++ {\n\t\ts += i\n\t}\n\treturn s\n}\n"
)
GO_TEST = (
    'package tiny\n\nimport "testing"\n\nfunc BenchmarkSum(b *testing.B) {\n'
    "\tfor i := 0; i < b.N; i++ {\n\t\tSum(100)\n\t}\n}\n"
)


@needs_bwrap
@pytest.mark.skipif(shutil.which("go") is None, reason="needs go")
def test_go_builds_in_the_box_with_a_cache_of_the_step_folder_s_own(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo", {"go.mod": GO_MOD, "tiny.go": GO_SRC, "tiny_test.go": GO_TEST}
    )
    (tmp_path / "answers.toml").write_text("[[answer]]\ntext = 'unused'\n")
    config_path = tmp_path / "perfsup.toml"
    config_path.write_text(
        '[target]\nrepo = "repo"\ngoal = "faster"\n'
        '[bench]\nrun = "go test -run ^$ -bench . -count 1"\n'
        '[[metrics]]\nname = "ns_op"\nsource = "go_bench"\n'
        '[access]\nwritable = ["tiny.go"]\n'
        '[model]\nbackend = "scripted"\nscript = "answers.toml"\n'
    )
    config = load_config(config_path)
    paths = RunPaths(tmp_path / "run")
    env = run_command_env(paths, config, repo)
    box = SandboxExecutor(LocalExecutor(), config.sandbox, [paths.root], lambda _l: None)
    git = GitWorkspace(repo, paths.worktrees)
    tree = git.add_worktree("1", "HEAD")
    command = "go env GOCACHE && go test -run '^$' -bench . -count 1"
    done = box.run(command, tree, tmp_path / "go.log", 300, env=env)
    assert done.ok, done.stdout + done.stderr
    cache = paths.worktrees / "1.cache" / "go-build"
    assert done.stdout.splitlines()[0] == str(cache.resolve())
    assert "BenchmarkSum" in done.stdout
    assert any(cache.iterdir())  # Go wrote its build outputs there, outside the worktree
    git.remove_worktree(tree)  # the cache goes with its worktree
    assert not (paths.worktrees / "1.cache").exists()
