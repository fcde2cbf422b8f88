"""Build flag sets as experiments: the proposer of a run without a model.

A node can be a flag set instead of a code edit. Its change is the flag set
written to the tree's `perfsup-build-flags.toml` (workspace/buildflags.py)
and committed like any edit, so it is built, checked, measured against its
parent and decided like any node, its children build with it, and its export
is a patch adding the note of its flags. Every command of a tree runs with
the tree's flags (`FlagsExecutor`, set up in the factory).

The sets come from `[flags] sets`, or a default list for the target's
language; each is applied on top of the parent's flags. When every set has
been tried the run ends, as a scripted run does when its answers run out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import col, select

from perfsup.agent.backend import ModelBackend, ScriptExhausted
from perfsup.agent.edits import ProposedEdit
from perfsup.config import Config
from perfsup.engine.errors import RunFailed
from perfsup.engine.proposal import Proposal
from perfsup.engine.recorder import Recorder
from perfsup.store import Node, Store
from perfsup.workspace.access import AccessDenied, check_edit_path
from perfsup.workspace.buildflags import (
    FLAG_KEYS,
    FLAGS_FILE,
    BadFlags,
    default_sets,
    describe_flags,
    flag_env,
    read_flags,
    write_flags,
)

__all__ = ["DESCRIPTION_PREFIX", "FlagsProposer", "with_flags_hint"]

DESCRIPTION_PREFIX = "build flags: "


class FlagsProposer:
    """Proposes the next untried flag set instead of asking a model."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        recorder: Recorder,
        repo_path: Path,
        report: Callable[[str], None],
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.report = report
        self.sets = [dict(s) for s in config.flags.sets] or default_sets(repo_path)
        self.problem = ""
        for number, flags in enumerate(self.sets, start=1):
            try:
                flag_env(flags)
            except BadFlags as exc:
                self.problem = f"[flags] sets, set {number}: {exc}"
                break

    def ask(
        self,
        run_id: int,
        node: Node,
        parent: Node,
        parent_dir: Path,
        candidate_dir: Path,
        *,
        backend: ModelBackend | None = None,
    ) -> Proposal:
        """Write the next flag set (on top of the parent's) into the candidate's tree."""
        if self.problem:
            raise RunFailed(self.problem)
        try:  # the fresh worktree of the parent's commit: nothing has run in it
            inherited = read_flags(candidate_dir)
        except BadFlags:
            inherited = {}
        tried = self._tried(run_id)
        for flags in self.sets:
            merged = {**inherited, **flags}
            description = DESCRIPTION_PREFIX + describe_flags(merged)
            if merged != inherited and description not in tried:
                break
        else:
            raise ScriptExhausted(f"every build flag set was tried ({len(self.sets)})")
        write_flags(candidate_dir, merged)
        rationale = (
            f"The same code built with {describe_flags(flags)}"
            + (f" on top of the parent's {describe_flags(inherited)}" if inherited else "")
            + "; measured and decided like any change."
        )
        self.report(f"{node.id:<10} {description}")
        self.recorder.update(node, answer_text="", description=description, rationale=rationale)
        edit = ProposedEdit(description=description, rationale=rationale, blocks=[], region=None)
        return Proposal(edit=edit, answer_text="", description=description, rationale=rationale)

    def _tried(self, run_id: int) -> set[str]:
        """The flag sets this run has already made nodes of (a resumed run goes on)."""
        with self.store.session() as s:
            rows = s.exec(
                select(Node.description).where(
                    Node.run_id == run_id, col(Node.description).startswith(DESCRIPTION_PREFIX)
                )
            ).all()
        return set(rows)


def with_flags_hint(config: Config, repo_path: Path) -> Config:
    """The config with a hint telling the model it may propose build flags, when the
    repository has the flags file and the access rules let the model write it (a
    person's opt-in; a model run, not `--flags-only`)."""
    if config.model.backend == "flags" or not (repo_path / FLAGS_FILE).is_file():
        return config
    try:
        check_edit_path(repo_path, FLAGS_FILE, config.access)
    except AccessDenied:
        return config
    keys = ", ".join(FLAG_KEYS)
    hint = (
        f"Instead of a code edit you may propose build flags: write {FLAGS_FILE} with "
        f'lines key = "value" (keys: {keys}); the same code is then built with them.'
    )
    target = config.target.model_copy(update={"hints": [*config.target.hints, hint]})
    return config.model_copy(update={"target": target})
