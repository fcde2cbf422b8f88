"""`perfsup init`: guess a config, say what the baseline is, and measure the
bench once so the pairs fit the noise.

The guess itself is `perfsup.config.guess`. Here: the folder must be the top of
a git checkout with a commit (the baseline is a commit); uncommitted edits are
named, because the run starts from the commit without them; then the preflight
runs build, check and bench (not the model: `perfsup check` does that) and
`bench.pairs` is set from the noise it measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import git

from perfsup.config import ConfigError, load_config
from perfsup.config.guess import write_init
from perfsup.engine.factory import run_command_env
from perfsup.engine.preflight import (
    MIN_PAIRS,
    PreflightFailed,
    PreflightReport,
    floor_at,
    run_preflight,
)
from perfsup.engine.rundir import run_paths
from perfsup.workspace.executor import LocalExecutor
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.sandbox import SandboxExecutor

#: Fewest pairs init writes: 20 find a real 3% gain on a typical home machine
#: about 9 times in 10 under keep rule v3 (benchmarks/decision_sim.py).
INIT_MIN_PAIRS = 20
INIT_MAX_PAIRS = 100
#: Longest the pairs of one experiment should take, so a night holds a few dozen.
PAIRS_BUDGET_S = 1800.0


class InitRefused(Exception):
    """The folder cannot be a target; the message says why and what to do."""


def baseline_of(repo: Path) -> tuple[str, list[str], list[str]]:
    """(description of HEAD, changed tracked files, untracked files); InitRefused if no repo."""
    if not (repo / ".git").exists():
        raise InitRefused(
            f"{repo} is not the top folder of a git repository; perfsup starts from a commit: "
            "run `git init && git add -A && git commit -m baseline` there first"
        )
    try:
        found = git.Repo(repo)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise InitRefused(f"{repo} is not a usable git repository: {exc}") from None
    with found:
        if not found.head.is_valid():
            raise InitRefused(
                f"{repo} has no commit yet; perfsup starts from a commit: "
                "run `git add -A && git commit -m baseline` first"
            )
        head = found.head.commit
        branch = "detached HEAD" if found.head.is_detached else found.active_branch.name
        summary = str(head.summary)[:60]
        described = f"{head.hexsha[:12]} ({branch}: {summary})"
        diffs = [*found.index.diff(None), *found.index.diff("HEAD")]
        changed = sorted({d.a_path or d.b_path or "?" for d in diffs})
        untracked = sorted(found.untracked_files)
    return described, changed, untracked


def init_repo(repo: Path, *, force: bool, say: Callable[[str], None]) -> Path:
    """Write repo/perfsup.toml and tell the person what it means; InitRefused if not a repo."""
    described, changed, untracked = baseline_of(repo)
    written = write_init(repo, force=force)
    say(f"wrote {written}")
    say(f"baseline: {described}; every experiment starts from this commit")
    if changed:
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        say(
            f"warning: {len(changed)} tracked file(s) have uncommitted changes ({shown}); "
            "the baseline is the commit without them: commit them first if they belong to it"
        )
    untracked = [p for p in untracked if p != written.name]
    if untracked:
        shown = ", ".join(untracked[:5]) + (" ..." if len(untracked) > 5 else "")
        say(f"note: {len(untracked)} untracked file(s) are not in the baseline either ({shown})")
    _measure_pairs(written, say)
    say("edit the goal (and anything marked TODO), then `perfsup check` and `perfsup run`")
    return written


def _measure_pairs(config_path: Path, say: Callable[[str], None]) -> None:
    """Run build, check and bench on the baseline; write the pairs the noise calls for."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        say(f"preflight skipped: the guessed config does not load yet: {exc}")
        return
    say("preflight: build, check and bench on the baseline to measure the noise ...")
    # the run folder the config names: its logs stay where `perfsup check` writes them
    paths = run_paths(config)
    executor = SandboxExecutor(LocalExecutor(), config.sandbox, [paths.root], say)
    workspace = GitWorkspace(Path(config.target.repo), paths.worktrees)
    try:
        found = run_preflight(
            config=config,
            git=workspace,
            baseline=workspace.resolve(config.target.base),
            executor=executor,
            env=run_command_env(paths, config, Path(config.target.repo)),
            log_dir=paths.logs / "preflight",
            backend=None,
            report=lambda _line: None,
        )
    except PreflightFailed as exc:
        say(f"preflight failed: {exc}")
        say("fix that in perfsup.toml, then `perfsup check` runs the preflight again")
        return
    pairs, why = choose_pairs(found)
    text = config_path.read_text(encoding="utf-8")
    text = re.sub(
        r"^pairs = \d+$",
        f"# measured by `perfsup init`: {why}\npairs = {pairs}",
        text,
        count=1,
        flags=re.MULTILINE,
    )
    config_path.write_text(text, encoding="utf-8")
    say(f"bench.pairs = {pairs}: {why}")
    min_effect = config.decision.min_effect
    for metric in found.metrics:
        floor = floor_at(metric, found.max_pairs, pairs)
        verdict = "fine" if floor <= min_effect else _noisy_verdict(config.decision.on_noise)
        say(
            f"noise {metric.spec.name}: smallest effect detectable at {pairs} pairs about "
            f"{floor:.1%} (min_effect {min_effect:.1%}): {verdict}"
        )


def choose_pairs(report: PreflightReport) -> tuple[int, str]:
    """Enough pairs for min_effect to stand out of the measured noise, within reason.

    Noise floors shrink like 1/sqrt(pairs) (see preflight.pairs_for); the count
    is kept between INIT_MIN_PAIRS and INIT_MAX_PAIRS, and so that the pairs of
    one experiment take at most PAIRS_BUDGET_S.
    """
    needed = max((m.pairs_needed for m in report.metrics), default=MIN_PAIRS)
    by_time = math.floor(PAIRS_BUDGET_S / (2 * report.bench_s)) if report.bench_s > 0 else needed
    pairs = max(INIT_MIN_PAIRS, min(needed, INIT_MAX_PAIRS, by_time))
    why = f"the noise calls for {needed} pairs, one bench run takes {report.bench_s:.2f} s"
    if pairs < needed:
        why += (
            f"; {pairs} is what fits, so changes smaller than the noise floor will be hard to"
            " keep (a quieter machine or a longer bench helps)"
        )
    return pairs, why


def _noisy_verdict(on_noise: str) -> str:
    if on_noise == "raise":
        return "the keep threshold will be raised to it"
    if on_noise == "stop":
        return "the run will stop at its first calibration if that confirms it"
    return "the run will use more pairs per pass, up to decision.max_pairs"
