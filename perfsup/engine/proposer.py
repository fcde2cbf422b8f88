"""Ask the model for one change: the prompt's context, the calls, the answer.

`PromptContext` is everything a prompt is built from (the goal, the files,
the path so far, what failed under this parent, hints, the profile's hot
spots); `Proposer.ask` writes the prompt file, streams the answer into the
agent log, records every call and leaves the edit applied in the candidate's
worktree (or says why there is none). It runs no build, check or bench
command, so it may run while another node benchmarks (pipeline.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perfsup.agent.backend import (
    CallFailed,
    ChatMessage,
    ModelBackend,
    ModelReply,
    ModelUnavailable,
    SizedModel,
    TokenCounting,
)
from perfsup.agent.context import EditFormatSetting, choose_edit_format
from perfsup.agent.grammar import forbid_unchanged, region_names, retry_grammar
from perfsup.agent.hotspots import (
    code_slices,
    hot_first,
    hot_regions,
    hot_spots,
    profile_section,
    rotated,
)
from perfsup.agent.prompt import EditFormat, PromptDoesNotFit, build_messages
from perfsup.agent.slices import CodeSlice, SliceLevel
from perfsup.agent.tokens import CachedCounter, LearnedRatio, estimate_tokens
from perfsup.config import AccessRules, Config
from perfsup.engine.controls import Controls
from perfsup.engine.errors import PromptTooLarge
from perfsup.engine.model_wait import PatientBackend
from perfsup.engine.night import night_text
from perfsup.engine.pacing import Pacer
from perfsup.engine.policy import model_failures_in_a_row
from perfsup.engine.profiling import parent_profile
from perfsup.engine.proposal import (
    RETRY_RESERVE_TOKENS,
    Proposal,
    RetryFit,
    answer_limits,
    propose,
)
from perfsup.engine.recorder import Recorder
from perfsup.engine.rundir import RunPaths
from perfsup.engine.sources import SourceCache
from perfsup.store import Node, NodeStatus, Run, Store
from perfsup.store.tree import children, lineage


@dataclass(frozen=True)
class PromptContext:
    """What one prompt is built from (see `agent.prompt.build_messages`)."""

    goal: str
    rules: AccessRules
    sources: dict[str, str]
    inquiry: list[str]  # one line per step from the run root to the parent
    failed_tries: list[str]  # what already failed under this parent
    last_failure: str | None
    hints: list[str]
    edit_format: EditFormat
    context_tokens: int
    answer_tokens: int
    regions: list[str]
    profile: str
    hot_files: list[str]
    slices: dict[str, list[CodeSlice]] = field(default_factory=dict)
    count: Callable[[str], int] = estimate_tokens
    reserve_tokens: int = 0  # kept free for what a retry adds

    def messages(self) -> list[ChatMessage]:
        """The chat messages; `PromptDoesNotFit` when no useful prompt fits the context."""
        return build_messages(
            goal=self.goal,
            rules=self.rules,
            sources=self.sources,
            inquiry=self.inquiry,
            failed_tries=self.failed_tries,
            last_failure=self.last_failure,
            hints=self.hints,
            edit_format=self.edit_format,
            context_tokens=self.context_tokens,
            answer_tokens=self.answer_tokens,
            regions=self.regions,
            profile=self.profile,
            hot_files=self.hot_files,
            slices=self.slices,
            count=self.count,
            reserve_tokens=self.reserve_tokens,
        )

    def grammar_sources(self) -> dict[str, str]:
        """The text a retry grammar anchors to: the sliced files' hot code, other files whole."""
        return {
            path: self.slices[path][0].code if path in self.slices else text
            for path, text in self.sources.items()
        }


class Proposer:
    """The model's side of an experiment."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        paths: RunPaths,
        recorder: Recorder,
        controls: Controls,
        pacer: Pacer,
        model: ModelBackend,
        backend: PatientBackend,
        extra_protected: list[str],
        repo_path: Path,
        report: Callable[[str], None],
    ) -> None:
        self.config = config
        self.repo_path = repo_path  # the person's repository: its objects are trusted
        self.store = store
        self.paths = paths
        self.recorder = recorder
        self.controls = controls
        self.pacer = pacer
        self.model = model  # the backend itself (its name, its size)
        self.backend = backend  # the same, waiting out its outages
        self.extra_protected = extra_protected
        self.report = report
        self._sources = SourceCache()
        self._chosen_format: EditFormat | None = None
        self._count: Callable[[str], int] | None = None
        self._paced = False

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
        """Ask until an edit applies to `candidate_dir` (or the tries run out)."""
        context = self.context(run_id, parent, parent_dir)
        try:
            messages = context.messages()
        except PromptDoesNotFit as exc:  # the run pauses: a person raises the context
            raise PromptTooLarge(f"cannot build a prompt: {exc}") from None
        agent_log = self.paths.log(node.id, "agent")
        agent_log.parent.mkdir(parents=True, exist_ok=True)
        prompt_file = self.paths.log(node.id, "prompt")
        prompt_file.write_text(
            "\n\n".join(f"### {m.role}\n{m.content}" for m in messages), encoding="utf-8"
        )
        self.recorder.artifact(node.id, "prompt", prompt_file)
        with agent_log.open("a", encoding="utf-8") as log:

            def on_token(chunk: str) -> None:
                log.write(chunk)
                log.flush()

            def on_reply(reply: ModelReply, attempt: int) -> None:
                self.recorder.model_call(run_id, node, reply, attempt)
                if not self._paced:  # the first call of the night shows its pace
                    self._paced = True
                    self.report(self._calls_line(run_id, reply))

            def on_failure(exc: CallFailed, attempt: int) -> None:
                self.recorder.failed_call(run_id, node, self.model.name, exc, attempt)

            def on_unusable(attempt: int, problem: str) -> None:
                self.recorder.unusable_answer(node, attempt, problem)

            proposal = propose(
                backend=backend or self.backend,
                messages=messages,
                max_retries=self.config.model.max_retries,
                worktree=candidate_dir,
                rules=self.config.access,
                extra_protected=self.extra_protected,
                on_token=on_token,
                on_reply=on_reply,
                on_failure=on_failure,
                before_call=lambda: self.pacer.before_call(run_id),
                retry_grammar=self._retry_grammar(context),
                retry_forbid=forbid_unchanged(context.edit_format, context.grammar_sources()),
                limits=answer_limits(self.config.model),
                on_unusable=on_unusable,
                fit=RetryFit(context.count, context.context_tokens, context.answer_tokens),
            )
        self.recorder.update(
            node,
            answer_text=proposal.answer_text,
            description=proposal.description,
            rationale=proposal.rationale,
        )
        return proposal

    def context(self, run_id: int, parent: Node, parent_dir: Path) -> PromptContext:
        # from the commit through the main repository's objects, never a worktree
        # a command has run in (hostile code may have rewritten its .git)
        sources = self._sources.get(parent.commit_sha, self.repo_path, self.config.access)
        with self.store.session() as s:
            inquiry = [summary(n) for n in lineage(s, parent)[1:]]
            tried = [n for n in children(s, parent.id) if NodeStatus(n.status).finished]
            run = s.get(Run, run_id)
            goal = run.goal if run else self.config.target.goal
        failed = [summary(n) for n in tried if n.status != NodeStatus.KEPT]
        last_failure = tried[-1].reason if tried and tried[-1].status != NodeStatus.KEPT else None
        # after answers that failed on the model's side: another function, a smaller slice
        misses = model_failures_in_a_row(tried)
        spots = rotated(hot_spots(parent_profile(self.store, parent.id), sources), misses)
        sources = hot_first(sources, spots)
        slices = code_slices(sources, spots, SliceLevel(min(misses, SliceLevel.HOTTEST_ONLY)))
        regions = [
            f"{p}::{n}"
            for p, text in sources.items()
            for n in (slices[p][0].functions if p in slices else region_names(p, text))
        ]
        model = self.config.model
        return PromptContext(
            goal=goal,
            rules=self.config.access,
            sources=sources,
            inquiry=inquiry,
            failed_tries=failed,
            last_failure=last_failure,
            hints=list(dict.fromkeys([*self.config.target.hints, *self.controls.hint_list()])),
            edit_format=self._edit_format(model.edit_format),
            context_tokens=model.context_tokens,
            answer_tokens=model.max_answer_tokens,
            regions=hot_regions(regions, spots),
            profile=profile_section(spots),
            hot_files=[spot.file for spot in spots],
            slices=slices,
            count=self._counter(),
            reserve_tokens=RETRY_RESERVE_TOKENS,
        )

    def _calls_line(self, run_id: int, reply: ModelReply) -> str:
        """What the first call cost, and how many calls the night still holds."""
        reading = reply.prompt_eval_s if reply.prompt_eval_s is not None else reply.ttft_s
        night = night_text(self.store, run_id, self.pacer.budgets, self.pacer.clock.now())
        return (
            f"model calls: the first took {reply.total_s:.0f} s ({reading:.0f} s reading "
            f"{reply.prompt_tokens} prompt tokens, {reply.total_s - reading:.0f} s writing "
            f"{reply.completion_tokens}); {night}"
        )

    def _counter(self) -> Callable[[str], int]:
        """The model's own token counter where the backend has one, else the estimate."""
        if self._count is None:
            if isinstance(self.model, TokenCounting):
                self._count = CachedCounter(_fallible(self.model.count_tokens))
            else:
                self._count = LearnedRatio().count  # cautious: fewer characters per token
        return self._count

    def _edit_format(self, setting: EditFormatSetting) -> EditFormat:
        """The run's edit format; for "auto", asked once of the backend's model size."""
        if self._chosen_format is None:
            size = self.model.parameter_count() if isinstance(self.model, SizedModel) else None
            self._chosen_format = choose_edit_format(setting, size)
            if setting == "auto":
                known = f"{size / 1e9:.2g}B parameters" if size else "size unknown"
                self.report(f"edit format: {self._chosen_format} ({known})")
        return self._chosen_format

    def _retry_grammar(self, context: PromptContext) -> str | None:
        if not (self.config.model.grammar_retry and self.backend.supports_grammar):
            return None
        return retry_grammar(context.edit_format, context.grammar_sources())


def _fallible(count: Callable[[str], int]) -> Callable[[str], int]:
    """`count`, or a cautious estimate when the backend cannot count just now."""
    cautious = LearnedRatio()

    def counted(text: str) -> int:
        try:
            return count(text)
        except (CallFailed, ModelUnavailable):
            return cautious.count(text)

    return counted


def summary(node: Node) -> str:
    """One line per tried node for the prompt: `1.2: ... -> kept, effect +12.0%`."""
    effect = f", effect {node.effect:+.1%}" if node.effect is not None else ""
    reason = f" ({node.reason})" if node.reason and node.status != NodeStatus.KEPT else ""
    return f"{node.id}: {node.description or '(no description)'} -> {node.status}{effect}{reason}"
