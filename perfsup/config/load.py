"""Load a perfsup.toml into a `Config`, or fail with one line that names the key.

Every failure is a `ConfigError` whose message names the file, the key, the
value found and what was expected; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from perfsup.config.model import Config

#: Keys whose value an error line never repeats (a secret may have been pasted there).
SECRET_KEYS = frozenset({"api_key_env"})


class ConfigError(Exception):
    """A configuration that cannot be used; the message is meant for the user."""


def is_git_url(repo: str) -> bool:
    """True for a remote repository address rather than a local folder."""
    return "://" in repo or (repo.count(":") == 1 and "@" in repo.split(":")[0])


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read, validate and resolve the config file at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file (run `perfsup init` to write one)"
        ) from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate TOML `text` as if it were the file at `path`, and resolve its paths."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, raw)) from None
    return _resolve(config, path.resolve().parent, path)


def _resolve(config: Config, base: Path, path: Path) -> Config:
    """Make relative paths absolute (relative to the config file) and check them."""
    repo = config.target.repo
    if not is_git_url(repo):
        repo_path = (base / repo).resolve()
        if not repo_path.is_dir():
            raise ConfigError(
                f"{path}: target.repo = {repo!r}: expected an existing folder or a git URL"
            )
        if not (repo_path / ".git").exists():
            raise ConfigError(
                f"{path}: target.repo = {repo!r}: {repo_path} is not a git repository "
                "(expected the top folder of a git checkout)"
            )
        for entry in config.access.writable:
            _check_relative(path, "access.writable", entry)
            if not (repo_path / entry).exists():
                raise ConfigError(
                    f"{path}: access.writable = {entry!r}: no such file or folder in {repo_path}"
                )
        repo = str(repo_path)
        target_updates = _resolve_target_env(config, repo_path, path)
    else:
        target_updates = {}
    for key, entry in (("access.protected", e) for e in config.access.protected):
        _check_relative(path, key, entry)

    model = config.model
    updates: dict[str, Any] = {}
    for key in ("script", "gguf_path"):
        value = getattr(model, key)
        if value is None:
            continue
        resolved = (base / value).resolve()
        if not resolved.is_file() or not os.access(resolved, os.R_OK):
            raise ConfigError(f"{path}: model.{key} = {value!r}: expected a readable file")
        updates[key] = str(resolved)
    run_dir = config.run.dir
    return config.model_copy(
        update={
            "target": config.target.model_copy(update={"repo": repo, **target_updates}),
            "model": model.model_copy(update=updates),
            "run": config.run.model_copy(
                update={"dir": str((base / run_dir).resolve()) if run_dir else None}
            ),
        }
    )


def _resolve_target_env(config: Config, repo_path: Path, path: Path) -> dict[str, Any]:
    """target.venv and target.path, made absolute (relative to the repository) and checked."""
    venv = config.target.venv
    updates: dict[str, Any] = {}
    if venv is not None:
        folder = (repo_path / Path(venv).expanduser()).resolve()
        if not os.access(folder / "bin" / "python", os.X_OK):
            raise ConfigError(
                f"{path}: target.venv = {venv!r}: expected a virtualenv folder with bin/python "
                f"(python -m venv {venv}), found none at {folder}"
            )
        updates["venv"] = str(folder)
    folders = []
    for entry in config.target.path:
        folder = (repo_path / Path(entry).expanduser()).resolve()
        if not folder.is_dir():
            raise ConfigError(f"{path}: target.path = {entry!r}: expected an existing folder")
        folders.append(str(folder))
    return {**updates, "path": folders}


def _check_relative(path: Path, key: str, entry: str) -> None:
    if Path(entry).is_absolute() or ".." in Path(entry).parts:
        raise ConfigError(
            f"{path}: {key} = {entry!r}: expected a path relative to the repository, without '..'"
        )


def _describe(path: Path, exc: ValidationError, raw: dict[str, Any]) -> str:
    """Turn the first pydantic error into one line: file, key, value, expectation."""
    error = exc.errors()[0]
    loc = [part for part in error["loc"] if not str(part).startswith("function-")]
    key = _dotted(loc)
    kind = error["type"]
    if kind == "missing":
        return f"{path}: missing key {key}: {_expected(loc)}"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        where = f"in [{_dotted(loc[:-1])}]" if loc[:-1] else "at the top level"
        return f"{path}: unknown key {key} {where}: expected one of {', '.join(allowed)}"
    value = error.get("input")
    shown = repr(value) if not isinstance(value, dict) else "{...}"
    if loc and loc[-1] in SECRET_KEYS:
        shown = "(value not shown)"  # it may be a key pasted where its variable's name goes
    message = error["msg"].removeprefix("Value error, ")
    return f"{path}: {key} = {shown}: {message}" if key else f"{path}: {message}"


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: list[Any]) -> type[BaseModel] | None:
    """The pydantic model that describes the table at `loc`, if there is one."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(loc: list[Any]) -> list[str]:
    model = _model_at(loc)
    return sorted(model.model_fields) if model else []


def _expected(loc: list[Any]) -> str:
    parent = _model_at(loc[:-1])
    if parent is not None:
        field = parent.model_fields.get(str(loc[-1]))
        if field is not None and field.description:
            return f"expected {field.description}"
        sub = _inner_model(field.annotation) if field is not None else None
        if sub is not None:
            keys = ", ".join(sorted(sub.model_fields))
            return f"expected a table [{_dotted(loc)}] with keys {keys}"
    return "expected a value"
