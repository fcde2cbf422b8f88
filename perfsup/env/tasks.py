"""The tasks an environment server offers, from a TOML file naming git URLs.

    [[task]]
    name = "go-demo"
    repo = "git://127.0.0.1:9418/go_target"   # a git URL (or a local folder)
    commit = "HEAD"                            # the baseline commit
    config = "perfsup.toml"                    # build, check, bench, metrics, access
    max_steps = 20

Build, check and benchmark commands, the metrics that count, the access rules
and the decision settings come from the repository's own perfsup config at
that commit; the task may override the goal and add writable host folders
(a compiler cache) for the sandbox.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["EnvTask", "TaskError", "load_tasks"]


class TaskError(Exception):
    """A task file that cannot be used; the message is one line."""


class EnvTask(BaseModel):
    """One task: what an episode starts from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    repo: str = Field(..., min_length=1, description="git URL or folder of the repository")
    commit: str = Field("HEAD", min_length=1, description="the baseline commit")
    config: str = Field("perfsup.toml", description="the perfsup config inside the repository")
    goal: str | None = Field(None, description="overrides the config's goal")
    max_steps: int = Field(30, ge=1, le=10_000, description="the step budget of an episode")
    writable_paths: list[str] = Field(
        default_factory=list, description="host folders the sandbox may write (a build cache)"
    )
    penalty_rejected: float = Field(0.1, ge=0, description="paid when a patch is refused")
    penalty_failed: float = Field(0.5, ge=0, description="paid when a build or the tests fail")


class _TaskFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: list[EnvTask] = Field(..., min_length=1)


def load_tasks(path: Path) -> dict[str, EnvTask]:
    """The tasks of `path` by name; TaskError names what is wrong and what was expected."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskError(f"{path}: no such task file (expected a TOML file of [[task]])") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"{path}: cannot read the task file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path}: TOML syntax error: {exc}") from None
    try:
        tasks = _TaskFile.model_validate(raw).task
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TaskError(f"{path}: {where}: {first['msg']}") from None
    named: dict[str, EnvTask] = {}
    for task in tasks:
        if task.name in named:
            raise TaskError(f"{path}: task name {task.name!r} appears twice (names are unique)")
        named[task.name] = task
    return named
