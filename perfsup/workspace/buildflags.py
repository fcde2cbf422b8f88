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
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping

__all__ = [
    "FLAG_KEYS",
    "FLAG_VARIABLES",
    "BadFlags",
    "describe_flags",
    "flag_env",
    "go_version",
    "pgo_support",
]

# The keys a flag set may use, and what each means.
FLAG_KEYS = {
    "gcflags": "Go: -gcflags passed to every package (e.g. '-B' drops bounds checks)",
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
        goflags.append(_goflag("gcflags", f"all={flags['gcflags']}"))
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
