#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
# System tools (Go, hyperfine, valgrind, tmux, bubblewrap, Chromium) come from
# the distribution when we are root on Debian/Ubuntu; Python packages from the
# project's own extras. Then: the dependency check (every import declared),
# the whole suite, ruff, mypy and the import contracts (tests/test_layers.py,
# tests/test_code_quality.py).
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: perfsup serve's browser test; libseccomp2: the box's seccomp filter
packages=(git golang-go hyperfine valgrind tmux bubblewrap libseccomp2 chromium)
missing=()
for pkg in "${packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "scripts/test.sh: missing system packages: ${missing[*]} (tests that need them skip)" >&2
    fi
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
# the llama extra builds llama-cpp-python from source (about 10 minutes the first time);
# the env extra (OpenEnv) lets tests/test_env_openenv.py run instead of skipping
python -m pip install -q -e '.[dev,llama,dask,env]'
# every third-party import of perfsup/ is declared in pyproject.toml
python -m deptry perfsup
exec python -m pytest "$@"
