"""Helpers shared by the tests (fixtures stay in tests/conftest.py)."""

from tests.helpers.engine import VALID_CONFIG, bench_sh_config, build_engine
from tests.helpers.repos import GIT_ENV, git, make_repo, perfsup
from tests.helpers.wait import holds_throughout, pilot_until, returns_in_time, wait_until

__all__ = [
    "GIT_ENV",
    "VALID_CONFIG",
    "bench_sh_config",
    "build_engine",
    "git",
    "holds_throughout",
    "make_repo",
    "perfsup",
    "pilot_until",
    "returns_in_time",
    "wait_until",
]
