"""Rewrite docs/decisions/README.md, the index of the decision records.

Reads every docs/decisions/NNNN-*.md (first line `# NNNN. Title`, a line
`Status: ...`) and writes a table of number, title and status, in number order.

    python scripts/decisions_index.py          # rewrite the index
    python scripts/decisions_index.py --check  # exit 1 if the index is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

RECORDS = Path(__file__).resolve().parent.parent / "docs" / "decisions"
_NAME = re.compile(r"^(\d{4})-[a-z0-9-]+\.md$")
_TITLE = re.compile(r"^# (\d{4})\. (.+)$")

HEADER = """\
# Decision records

Where the founding design or an issue was silent, these records say what
perfsup does and why. One decision per file, `NNNN-kebab-title.md`, starting
with `# NNNN. Title`, a `Status:` line (`accepted`, or `superseded by NNNN`)
and, where known, a `Date:` line. Higher numbers are later. A record is not
rewritten when a decision changes: a new record supersedes it, and the old
one's status names the new one.

Numbers: 0001-0099 hold the project's first journal, converted; 0110-0159
were given to helpers working in parallel on one session; 0160 and up
continue from there. This index is generated: after adding a record run
`python scripts/decisions_index.py`.

| No. | Decision | Status |
| --- | --- | --- |
"""


def read_record(path: Path) -> tuple[str, str, str]:
    """(number, title, status) of one record; a malformed record is a clear error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    title = _TITLE.match(lines[0]) if lines else None
    if title is None or not path.name.startswith(title[1]):
        raise SystemExit(f"{path.name}: the first line must be '# NNNN. Title' with its number")
    status = next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("Status:")), ""
    )
    if not status:
        raise SystemExit(f"{path.name}: no 'Status:' line (accepted, or superseded by NNNN)")
    return title[1], title[2], status


def render(records: Path = RECORDS) -> str:
    rows = []
    for path in sorted(records.glob("*.md")):
        if _NAME.match(path.name) is None:
            continue  # README.md and anything that is not a record
        number, title, status = read_record(path)
        rows.append(f"| [{number}]({path.name}) | {title.replace('|', '/')} | {status} |")
    return HEADER + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the index is stale")
    args = parser.parse_args()
    index = RECORDS / "README.md"
    text = render()
    if args.check:
        if not index.exists() or index.read_text(encoding="utf-8") != text:
            sys.exit(f"{index}: stale; run python scripts/decisions_index.py")
        return
    index.write_text(text, encoding="utf-8")
    print(f"{index.name}: {text.count(chr(10) + '| [')} records")


if __name__ == "__main__":
    main()
