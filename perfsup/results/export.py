"""Export what a night found: a patch series, one squashed patch, or a branch.

Each node's change is one commit on `perfsup/<id>`, whose message only holds
the model's description. Exported commits are rewritten with `git
commit-tree` (plumbing: no working tree, index or HEAD is touched) so that
each message carries the node id, the description, the effect that decided
it with its interval, and the model that proposed it. The series starts at
the user's own baseline commit, across promoted runs, so it applies with
`git am` (or `git apply`) to a fresh clone of the branch the night started
from.

Only kept changes are exported: a node that is not kept, or whose path from
the baseline passes through one that is not, is refused unless `force`; then
every message says which change was not kept and why, and no effect is claimed
for a change that was never measured (issue 16: a `checks_failed` patch read
"97.6% better").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from perfsup.engine.best import best_node, compounded_gain, metric_effects
from perfsup.metrics.record import Effect
from perfsup.store import Node, NodeStatus, Run, Store
from perfsup.store.tree import lineage
from perfsup.workspace.git import GitWorkspace

__all__ = [
    "ExportError",
    "Exported",
    "PathInfo",
    "best_node",
    "export_node",
    "metric_effects",
    "path_to",
]


class ExportError(Exception):
    """A one-line reason why nothing can be exported."""


@dataclass(frozen=True)
class PathInfo:
    """The changes from the user's baseline to a node, oldest first."""

    base_commit: str
    repo_path: str
    nodes: list[Node]  # every node with a change on the path (roots left out)


@dataclass(frozen=True)
class Exported:
    node_id: str
    commits: int  # commits in the patch (1 when squashed)
    tip: str  # sha of the exported (rewritten) tip commit
    patch: str | None  # the format-patch text, unless a branch was asked for
    branch: str | None
    not_kept: tuple[str, ...] = ()  # with force: each change not kept, and why


def _why(node: Node) -> str:
    return f"{node.status}: {node.reason}" if node.reason else node.status


def not_kept_text(node: Node) -> str:
    """`1.2.1 was not kept (checks_failed: check.py failed)`."""
    return f"{node.id} was not kept ({_why(node)})"


def refuse_unless_kept(node: Node, path: list[Node], force: bool) -> tuple[str, ...]:
    """The changes on `path` that were not kept, said in words; without `force`, any of
    them is an ExportError naming the first and the way out."""
    missing = [n for n in path if n.status != NodeStatus.KEPT]
    if missing and not force:
        first = missing[0]
        what = (
            f"node {not_kept_text(node)}"
            if first.id == node.id
            else f"node {node.id}: its path from the baseline passes through {first.id}, "
            f"which was not kept ({_why(first)})"
        )
        raise ExportError(
            f"{what}; only kept changes are exported (--force exports it anyway, "
            "saying so in every message)"
        )
    return tuple(not_kept_text(n) for n in missing)


def path_to(session: Session, node: Node) -> PathInfo:
    """The change nodes from the first run's baseline to `node`, across promoted runs."""
    chain = lineage(session, node)
    while True:
        root = chain[0]
        run = session.get(Run, root.run_id)
        if run is None:
            raise ExportError(f"node {node.id} belongs to no run")
        if run.from_node_id is None:
            break
        origin = session.get(Node, run.from_node_id)
        if origin is None:
            break
        # the promoted run's root is the same commit as the node it came from
        chain = lineage(session, origin) + chain[1:]
    base_run = session.get(Run, chain[0].run_id)
    assert base_run is not None
    return PathInfo(
        base_commit=base_run.baseline_commit,
        repo_path=base_run.repo_path,
        nodes=[n for n in chain if n.parent_id is not None],
    )


def effect_line(m: Effect) -> str:
    """`time_ms 38.2% better [+35.1%, +41.0%] (re-verified, 10 pairs, p=0.002)`."""
    return m.line()


def measured_effects(node: Node) -> list[Effect]:
    """The effects worth quoting: a kept, discarded or pruned node's; nothing for a node
    that failed before its decision (stale numbers must never read as a gain)."""
    if node.status not in (NodeStatus.KEPT, NodeStatus.DISCARDED, NodeStatus.PRUNED):
        return []
    return metric_effects(node)


def commit_message(node: Node) -> str:
    """The exported message of one node's commit."""
    kept = node.status == NodeStatus.KEPT
    title = node.description or "(no description)"
    lines = [f"perfsup {node.id}: {title}" + ("" if kept else " (NOT KEPT)"), ""]
    if not kept:
        lines += [f"Not kept: {not_kept_text(node)}; exported with --force.", ""]
    if node.rationale.strip():
        lines += [node.rationale.strip(), ""]
    effects = measured_effects(node)
    for m in effects:
        lines.append("Effect: " + effect_line(m) + ("" if kept else f" ({node.status})"))
    if not effects:
        lines.append("Effect: not measured" + ("" if kept else f" ({node.status})"))
    lines.append(f"Model: {node.model or 'none'}")
    lines.append(f"perfsup-node: {node.id}")
    return "\n".join(lines) + "\n"


def squash_message(
    target: Node, nodes: list[Node], base_commit: str, direction: str = "lower"
) -> str:
    """The message of one commit holding every change of the path."""
    missing = [n for n in nodes if n.status != NodeStatus.KEPT]
    gain = None if missing else compounded_gain(nodes, None, direction)
    lines = [
        f"perfsup {target.id}: {target.description or '(no description)'}"
        + (f" ({len(nodes)} changes)" if len(nodes) > 1 else "")
        + (" (NOT ALL KEPT)" if missing else ""),
        "",
        f"Every change from the baseline {base_commit[:12]} to perfsup node {target.id}:",
    ]
    for node in nodes:
        effects = measured_effects(node)
        effect = f": {effect_line(effects[0])}" if effects else ""
        if node.status != NodeStatus.KEPT:
            effect += f" [NOT KEPT: {node.status}" + (f": {node.reason}]" if node.reason else "]")
        lines.append(f"- {node.id} {node.description or '(no description)'}{effect}")
    lines.append("")
    if missing:
        lines.append(
            "Not kept: " + "; ".join(not_kept_text(n) for n in missing) + "; exported with "
            "--force, so no compounded effect is claimed"
        )
    if gain is not None:
        lines.append(
            f"Compounded effect on the first metric: {gain:.1%} better than the baseline "
            "(the product of the effects above)"
        )
    models = sorted({n.model for n in nodes if n.model})
    lines.append(f"Model: {', '.join(models) or 'none'}")
    lines.append(f"perfsup-node: {target.id}")
    return "\n".join(lines) + "\n"


def open_path(
    store: Store, worktrees_dir: Path, node_id: str, force: bool
) -> tuple[Node, PathInfo, tuple[str, ...], GitWorkspace, str]:
    """What every export starts from: the node, its path from the baseline (refused
    unless kept, see `refuse_unless_kept`), the nodes not kept, the repository and
    the baseline's commit."""
    with store.session() as s:
        node = s.get(Node, node_id)
        if node is None:
            raise ExportError(f"no node {node_id} in {store.path}")
        if node.commit_sha is None or node.parent_id is None:
            raise ExportError(f"node {node.id} has no change to export (status {node.status})")
        info = path_to(s, node)
    missing = refuse_unless_kept(node, info.nodes, force)
    try:
        git = GitWorkspace(Path(info.repo_path), worktrees_dir)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    return node, info, missing, git, git.resolve(info.base_commit)


def export_node(
    store: Store,
    worktrees_dir: Path,
    node_id: str,
    *,
    squash: bool = False,
    branch: str | None = None,
    direction: str = "lower",
    force: bool = False,
) -> Exported:
    """Rewrite the path to `node_id` with metric-carrying messages and export it.

    A node not kept, or on a path through one not kept, is an ExportError unless
    `force` (see `refuse_unless_kept`)."""
    node, info, missing, git, base = open_path(store, worktrees_dir, node_id, force)
    assert node.commit_sha is not None  # open_path refuses a node without one
    if squash:
        tip = git.commit_tree(
            node.commit_sha, base, squash_message(node, info.nodes, base, direction)
        )
        count = 1
    else:
        tip = base
        for n in info.nodes:
            assert n.commit_sha is not None
            tip = git.commit_tree(n.commit_sha, tip, commit_message(n))
        count = len(info.nodes)
    if branch is not None:
        try:
            git.create_branch(branch, tip)
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        return Exported(node.id, count, tip, None, branch, missing)
    return Exported(node.id, count, tip, git.format_patch(base, tip), None, missing)


def newest_run(session: Session) -> Run | None:
    from sqlmodel import col

    return session.exec(select(Run).order_by(col(Run.id).desc())).first()
