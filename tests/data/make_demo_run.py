"""Regenerate `demo_run.sql` and `demo_run.toml`: the store of a real
`perfsup demo --headless --seed 7` run, for the TUI's snapshot tests.

Run from the repository root: `python tests/data/make_demo_run.py` (or
`--from DIR` to read a demo already run with `perfsup demo --dir DIR`). The
store is kept as an SQL dump (readable, diffable); what names this machine
is taken out: the repository path, the run folder, the log artifacts (the
logs themselves are not kept).
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT_SQL = Path(__file__).with_name("demo_run.sql")
OUT_TOML = Path(__file__).with_name("demo_run.toml")


def strip_run_section(toml: str) -> str:
    """The demo's config without the `[run]` section the demo adds (a local path)."""
    return re.sub(r"\n\[run\]\n(?:[^\[\n].*\n?)*", "\n", toml).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a demo folder already run")
    args = parser.parse_args()
    base = args.source
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="perfsup-demo-"))
        subprocess.run(
            [sys.executable, "-m", "perfsup", "demo", "--headless", "--dir", str(base),
             "--seed", "7"],
            check=True, cwd=ROOT,
        )  # fmt: skip
    config = strip_run_section((base / "repo" / "perfsup.toml").read_text())
    db = sqlite3.connect(base / "run" / "perfsup.db")
    try:
        db.execute("DELETE FROM artifact")
        db.execute("UPDATE run SET repo_path = 'repo', config_toml = ?", (config,))
        db.commit()
        dump = "\n".join(db.iterdump()) + "\n"
    finally:
        db.close()
    for private in (str(base), str(Path.home())):
        if private in dump:
            raise SystemExit(f"the dump still names {private}: look at what else stores paths")
    OUT_SQL.write_text(dump)
    OUT_TOML.write_text(config)
    print(f"wrote {OUT_SQL} ({len(dump):,} characters) and {OUT_TOML}")


if __name__ == "__main__":
    main()
