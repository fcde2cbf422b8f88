"""Build flags as an experiment: a named set of compiler settings turned into the
environment of the build command.

A flag set never edits a file: it reaches the build through the variables the
toolchains read themselves (`GOFLAGS` and `GOAMD64` for Go; `CFLAGS`,
`CXXFLAGS`, `LDFLAGS` for C and C++ builds that honour them; `RUSTFLAGS` and
`CARGO_PROFILE_RELEASE_LTO` for cargo), so the same build command measures
every set, and the set is exported as a note of its flags.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import stat
import subprocess
import threading
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

from perfsup.workspace.executor import Executor
from perfsup.workspace.runner import CommandResult

__all__ = [
    "FLAGS_FILE",
    "FLAG_KEYS",
    "FLAG_VARIABLES",
    "BadFlags",
    "FlagsExecutor",
    "default_sets",
    "describe_flags",
    "flag_env",
    "go_version",
    "pgo_support",
    "read_flags",
    "write_flags",
]

# The keys a flag set may use, and what each means.
FLAG_KEYS = {
    "gcflags": "Go: -gcflags (e.g. '-B' drops bounds checks; 'all=-B' for every package)",
    "ldflags": "Go: -ldflags (e.g. '-s -w')",
    "goamd64": "Go: the GOAMD64 level, v1 to v4",
    "pgo": "Go: a profile for profile-guided optimisation (go 1.21+; 1.20 behind -pgo)",
    "opt_level": "C/C++/Rust: optimisation level (0, 1, 2, 3, s, z)",
    "lto": "C/C++/Rust: link-time optimisation (true/false, or thin)",
    "target_cpu": "C/C++/Rust: target CPU (e.g. native)",
}
# Every variable a flag set may set: removed from the baseline's environment
# so a person's own GOFLAGS cannot measure differently on the two sides.
FLAG_VARIABLES = (
    "GOFLAGS",
    "GOAMD64",
    "CFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "RUSTFLAGS",
    "CARGO_PROFILE_RELEASE_LTO",
)
_OPT_LEVELS = {"0", "1", "2", "3", "s", "z", "fast"}
_GOAMD64 = {"v1", "v2", "v3", "v4"}
# Flag values reach a command line: plain printable text only.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9 ._,=:/+@%-]*$")


# The flag set of a tree, committed with it: children inherit it, export shows it.
FLAGS_FILE = "perfsup-build-flags.toml"
_MAX_FLAGS_BYTES = 4096
# Tried by `perfsup run --flags-only` when [flags] sets is empty.
_DEFAULT_SETS = {
    "go": [{"gcflags": "-B"}, {"ldflags": "-s"}, {"goamd64": "v3"}, {"gcflags": "-l"}],
    "c": [
        {"opt_level": "3"},
        {"opt_level": "3", "lto": "true"},
        {"opt_level": "3", "target_cpu": "native"},
        {"opt_level": "2", "lto": "true", "target_cpu": "native"},
    ],
}


class BadFlags(ValueError):
    """A flag set that cannot be used; the message is one line for person and model."""


def flag_env(flags: Mapping[str, str]) -> dict[str, str]:
    """The build environment variables of a flag set (BadFlags names what is wrong)."""
    for key, value in flags.items():
        if key not in FLAG_KEYS:
            raise BadFlags(f"unknown build flag {key!r} (expected one of: {', '.join(FLAG_KEYS)})")
        if not _SAFE_VALUE.match(str(value)):
            raise BadFlags(f"build flag {key}={value!r}: only letters, digits and ._,=:/+@%- ")
    env: dict[str, str] = {}
    goflags = []
    if flags.get("gcflags"):
        goflags.append(_goflag("gcflags", flags["gcflags"]))
    if flags.get("ldflags"):
        goflags.append(_goflag("ldflags", flags["ldflags"]))
    if flags.get("pgo"):
        supported, why = pgo_support()
        if not supported:
            raise BadFlags(f"build flag pgo: {why}")
        goflags.append(f"-pgo={flags['pgo']}")
    if goflags:
        env["GOFLAGS"] = " ".join(goflags)
    if flags.get("goamd64"):
        if flags["goamd64"] not in _GOAMD64:
            raise BadFlags(f"build flag goamd64={flags['goamd64']!r}: expected v1, v2, v3 or v4")
        env["GOAMD64"] = flags["goamd64"]
    c_flags = _c_flags(flags)
    if c_flags:
        env["CFLAGS"] = env["CXXFLAGS"] = " ".join(c_flags)
        rust = [f"-C {f}" for f in _rust_flags(flags)]
        if rust:
            env["RUSTFLAGS"] = " ".join(rust)
    if flags.get("lto"):
        env["LDFLAGS"] = "-flto" if flags["lto"] not in ("false", "off", "0") else ""
        env["CARGO_PROFILE_RELEASE_LTO"] = flags["lto"]
    return env


def _goflag(name: str, value: str) -> str:
    """One GOFLAGS entry. GOFLAGS splits on spaces and go 1.19 reads no quotes in it."""
    if " " in value:
        raise BadFlags(
            f"build flag {name}={value!r}: GOFLAGS cannot hold a space; give one flag "
            "(for example ldflags='-s') per set"
        )
    return f"-{name}={value}"


def _c_flags(flags: Mapping[str, str]) -> list[str]:
    out = []
    level = flags.get("opt_level")
    if level:
        if level not in _OPT_LEVELS:
            raise BadFlags(f"build flag opt_level={level!r}: expected one of 0 1 2 3 s z fast")
        out.append(f"-O{level}")
    if flags.get("lto") and flags["lto"] not in ("false", "off", "0"):
        out.append("-flto" if flags["lto"] != "thin" else "-flto=thin")
    if flags.get("target_cpu"):
        out.append(f"-march={flags['target_cpu']}")
    return out


def _rust_flags(flags: Mapping[str, str]) -> list[str]:
    out = []
    if flags.get("opt_level"):
        out.append(f"opt-level={flags['opt_level']}")
    if flags.get("target_cpu"):
        out.append(f"target-cpu={flags['target_cpu']}")
    return out


def describe_flags(flags: Mapping[str, str]) -> str:
    """One line for a node's description and the exported note: `gcflags='-B' goamd64=v3`."""
    if not flags:
        return "default build flags"
    return " ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted(flags.items()))


@functools.cache
def go_version() -> tuple[int, int] | None:
    """(major, minor) of the go tool on PATH, None without one."""
    if shutil.which("go") is None:
        return None
    try:
        out = subprocess.run(
            ["go", "env", "GOVERSION"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"go(\d+)\.(\d+)", out.strip())
    return (int(match[1]), int(match[2])) if match else None


def pgo_support() -> tuple[bool, str]:
    """Whether this go toolchain can build with a profile (-pgo came in go 1.20)."""
    version = go_version()
    if version is None:
        return False, "no go tool on PATH"
    if version < (1, 20):
        return False, (
            f"profile-guided optimisation needs go 1.20 or newer; this toolchain is "
            f"go {version[0]}.{version[1]}"
        )
    return True, ""


def default_sets(repo: Path) -> list[dict[str, str]]:
    """The flag sets worth a try for the repository's language."""
    return [dict(d) for d in _DEFAULT_SETS["go" if (repo / "go.mod").is_file() else "c"]]


def read_flags(tree: Path) -> dict[str, str]:
    """The flag set committed in `tree` ({} without one); BadFlags when unreadable.

    Only a regular file is read (a command may have left a symlink there), and
    only a small one.
    """
    path = tree / FLAGS_FILE
    try:
        info = os.lstat(path)
    except OSError:
        return {}
    if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FLAGS_BYTES:
        raise BadFlags(f"{FLAGS_FILE}: not a small regular file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadFlags(f"{FLAGS_FILE}: {exc}") from None
    flags = {str(k): str(v) for k, v in raw.items()}
    flag_env(flags)  # BadFlags for an unknown key or an unsafe value
    return flags


def write_flags(tree: Path, flags: Mapping[str, str]) -> None:
    """Write the flag set into `tree` as TOML (checked first)."""
    flag_env(flags)
    lines = [f"# perfsup build flags: {describe_flags(flags)}"]
    lines += [f'{key} = "{value}"' for key, value in sorted(flags.items())]
    (tree / FLAGS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


class FlagsExecutor:
    """Runs every command of a tree with that tree's committed flag set.

    The variables are exported at the head of the command line itself, so no
    environment scrubbing further down can drop them; their values passed
    `flag_env`'s check (plain characters only) and are quoted besides. An
    unreadable flags file fails the command with its reason.
    """

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def run(
        self,
        command: str,
        cwd: Path,
        log_path: Path,
        timeout_s: float,
        *,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        try:
            variables = flag_env(read_flags(Path(cwd)))
        except BadFlags as exc:
            command = f"echo {shlex.quote(f'perfsup: {exc}')} >&2; exit 2"
            variables = {}
        if variables:
            exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(variables.items()))
            command = f"export {exports}\n{command}"
        return self.inner.run(
            command, cwd, log_path, timeout_s, env=env, on_line=on_line, cancel=cancel
        )
