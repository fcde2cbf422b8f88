"""`perfsup export --split`: the changes of a path as independent patches.

A reviewer may want one change of the night and not another. The changes on
the path from the baseline to a node are grouped by the files they touch: two
changes that touch a common file (directly or through a chain of others) are
one group, so no two groups share a file. Each group becomes one commit on the
baseline whose tree is the baseline's with the group's files as the node has
them; since no other group touched those files, that is exactly the group's
changes, and each patch applies alone to the baseline with `git am` or `git
apply`, in any order or not at all. Independent in the text, not necessarily
in meaning: a change may still rely on another part's change (decision 0201).
The refusal of changes not kept is `export`'s (`refuse_unless_kept`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perfsup.results.export import (
    effect_line,
    measured_effects,
    not_kept_text,
    open_path,
)
from perfsup.store import Node, NodeStatus, Store
from perfsup.workspace.gittrees import changed_paths, commit_with_paths

__all__ = ["SplitExport", "SplitPart", "export_split", "group_by_files"]


@dataclass(frozen=True)
class SplitPart:
    number: int
    node_ids: tuple[str, ...]  # the changes in this part, oldest first
    files: tuple[str, ...]  # the files they touch (no other part touches them)
    patch: str  # format-patch text of one commit on the baseline


@dataclass(frozen=True)
class SplitExport:
    node_id: str
    parts: list[SplitPart]
    not_kept: tuple[str, ...] = ()  # with force: each change not kept, and why
    unchanged: tuple[str, ...] = ()  # changes on the path that touch no file


def group_by_files(changes: list[tuple[str, set[str]]]) -> list[tuple[list[str], set[str]]]:
    """Group (id, files) so that groups share no file; groups in order of their first id."""
    groups: list[tuple[list[str], set[str]]] = []
    for change_id, files in changes:
        touching = [g for g in groups if g[1] & files]
        merged_ids = [i for g in touching for i in g[0]] + [change_id]
        merged_files = set(files).union(*(g[1] for g in touching))
        first = groups.index(touching[0]) if touching else len(groups)
        groups = [g for g in groups if g not in touching]
        groups.insert(min(first, len(groups)), (merged_ids, merged_files))
    order = [change_id for change_id, _ in changes]
    for ids, _ in groups:
        ids.sort(key=order.index)
    return groups


def part_message(
    target: Node, nodes: list[Node], files: list[str], k: int, n: int, base: str
) -> str:
    """The message of one part: its changes with their effects, its files, and honesty."""
    first = nodes[0].description or "(no description)"
    more = f" (+{len(nodes) - 1} more)" if len(nodes) > 1 else ""
    missing = [x for x in nodes if x.status != NodeStatus.KEPT]
    lines = [
        f"perfsup {target.id} part {k} of {n}: {first}{more}" + (" (NOT KEPT)" if missing else ""),
        "",
        f"One independent part of the changes from the baseline {base[:12]} to perfsup "
        f"node {target.id}. It applies alone to the baseline: no other part touches its "
        f"files ({', '.join(files)}).",
        "",
    ]
    for node in nodes:
        effects = measured_effects(node)
        effect = f": {effect_line(effects[0])}" if effects else ": not measured"
        lines.append(f"- {node.id} {node.description or '(no description)'}{effect}")
    lines.append("")
    if missing:
        lines.append("Not kept: " + "; ".join(not_kept_text(x) for x in missing) + ".")
    lines.append(
        "Each effect was measured on top of its parent on the path, not on this part alone."
    )
    models = sorted({x.model for x in nodes if x.model})
    lines.append(f"Model: {', '.join(models) or 'none'}")
    lines.append(f"perfsup-node: {' '.join(x.id for x in nodes)}")
    return "\n".join(lines) + "\n"


def export_split(
    store: Store, worktrees_dir: Path, node_id: str, *, force: bool = False
) -> SplitExport:
    """The path to `node_id` as independent patches on the baseline, grouped by files."""
    node, info, missing, git, base = open_path(store, worktrees_dir, node_id, force)
    assert node.commit_sha is not None  # open_path refuses a node without one
    repo = Path(info.repo_path)
    by_id = {n.id: n for n in info.nodes}
    changes = []
    for n in info.nodes:
        assert n.commit_sha is not None
        changes.append((n.id, set(changed_paths(repo, f"{n.commit_sha}^", n.commit_sha))))
    unchanged = tuple(i for i, files in changes if not files)
    groups = group_by_files([(i, files) for i, files in changes if files])
    parts = []
    for k, (ids, files) in enumerate(groups, start=1):
        chosen = sorted(files)
        message = part_message(node, [by_id[i] for i in ids], chosen, k, len(groups), base)
        sha = commit_with_paths(repo, base, node.commit_sha, chosen, message)
        parts.append(SplitPart(k, tuple(ids), tuple(chosen), git.format_patch(base, sha)))
    return SplitExport(node.id, parts, missing, unchanged)
