"""The shape of the code that ARCHITECTURE.md promises: small modules, small
engine classes, and a state diagram that is the transitions table's own."""

from __future__ import annotations

import ast
from pathlib import Path

from perfsup.store.transitions import ALLOWED, ENDS, STEPS, NodeStatus

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "perfsup"
MAX_MODULE_LINES = 450
MAX_ENGINE_CLASS_LINES = 300
# The classes the old 950-line Engine was split into (engine/*.py).
ENGINE_PARTS = {
    "loop.py": ["Engine"],
    "runs.py": ["RunLifecycle"],
    "phases.py": ["Phases"],
    "proposer.py": ["Proposer", "PromptContext"],
    "recorder.py": ["Recorder"],
    "worktrees.py": ["BuiltTrees"],
    "pipeline.py": ["Pipeline"],
}


def test_no_module_in_perfsup_is_over_450_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them): {long}"


def test_the_engine_s_classes_are_each_under_300_lines() -> None:
    sizes: dict[str, int] = {}
    for module, names in ENGINE_PARTS.items():
        tree = ast.parse((PACKAGE / "engine" / module).read_text(encoding="utf-8"))
        found = {
            node.name: (node.end_lineno or node.lineno) - node.lineno + 1
            for node in tree.body
            if isinstance(node, ast.ClassDef)
        }
        for name in names:
            assert name in found, f"engine/{module} has no class {name}"
            sizes[name] = found[name]
    assert max(sizes.values()) < MAX_ENGINE_CLASS_LINES, sizes


def state_diagram() -> str:
    """The Mermaid diagram of `ALLOWED`, the end statuses drawn as one state."""
    ends = sorted(s.value for s in ENDS)
    lines = ["stateDiagram-v2", "    [*] --> queued"]
    for status in (NodeStatus.QUEUED, *STEPS):
        targets = ALLOWED[status]
        for step in (NodeStatus.QUEUED, *STEPS):
            if step in targets:
                lines.append(f"    {status.value} --> {step.value}")
        if targets >= ENDS:
            lines.append(f"    {status.value} --> ended")
    pruned_from = sorted(s.value for s in ENDS if NodeStatus.PRUNED in ALLOWED[s])
    retried = sorted(s.value for s in ENDS if NodeStatus.QUEUED in ALLOWED[s])
    lines += [
        "    ended --> [*]",
        f"    note right of ended: {', '.join(ends)}",
        f"    ended --> pruned: a person prunes ({len(pruned_from)} of the ends)",
        f"    ended --> queued: a run's baseline is checked again ({', '.join(retried)})",
    ]
    if ALLOWED[NodeStatus.PRUNED] == ENDS - {NodeStatus.PRUNED}:
        lines.append("    pruned --> ended: a person undoes the prune (the end it had)")
    return "\n".join(lines)


def test_the_diagram_draws_every_allowed_move_and_no_other() -> None:
    # Drawing the ends as one state is faithful only if a status reaches all or none.
    for status, targets in ALLOWED.items():
        if status is not NodeStatus.PRUNED:  # drawn as its own arrow
            assert targets >= ENDS or not (ENDS - {NodeStatus.PRUNED}) & targets, status
    finished = ENDS - {NodeStatus.PRUNED}
    assert all(ALLOWED[s] <= {NodeStatus.PRUNED, NodeStatus.QUEUED} for s in finished)
    assert ALLOWED[NodeStatus.PRUNED] == ENDS - {NodeStatus.PRUNED}


def test_architecture_md_shows_the_state_diagram_of_the_transitions_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{state_diagram()}\n```" in text, (
        "ARCHITECTURE.md's state diagram differs from store/transitions.py; expected:\n"
        + state_diagram()
    )
