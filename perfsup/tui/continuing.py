"""`c`: give a finished run more budget and start an engine that goes on with it.

The TUI cannot start an engine itself (that is the command line's job, a
layer above); `perfsup attach`, `run`, `demo` and `serve` hand it a starter
that runs `perfsup run --continue` detached. The run then turns `running`
again and the TUI follows it like any running run.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import work
from textual.app import App

from perfsup.config import Config
from perfsup.tui.dialogs import ContinueScreen
from perfsup.tui.rows import StatusInfo

# (more experiments, more tokens) -> what was started, one line; raises ValueError.
ContinueStarter = Callable[[int, int], str]


class ContinueRun(App[None]):
    config: Config | None
    status_info: StatusInfo | None
    continue_starter: ContinueStarter | None = None

    def action_continue_run(self) -> None:
        info = self.status_info
        if info is None or info.run_id is None:
            self.notify("not connected to a run yet", title="continue", severity="warning")
            return
        if not info.read_only:
            self.notify(
                f"run {info.run_id} is still {info.run_status}; its budgets change live "
                "(`perfsup ctl budgets max_experiments=N`)",
                title="continue: refused",
                severity="warning",
            )
            return
        if self.continue_starter is None:
            self.notify(
                "start `perfsup run --continue -c perfsup.toml` in a terminal",
                title="continue: no config here",
                severity="warning",
            )
            return
        budgets = self.config.budgets if self.config else None
        experiments = budgets.max_experiments if budgets else 10
        tokens = budgets.max_tokens if budgets else 100_000

        def chosen(more: dict[str, int] | None) -> None:
            if more:
                self.start_continue(more["experiments"], more["tokens"])

        self.push_screen(ContinueScreen(info.run_id, experiments, tokens), chosen)

    @work(thread=True, exclusive=True, group="continue", name="continue")
    def start_continue(self, experiments: int, tokens: int) -> None:
        starter = self.continue_starter
        assert starter is not None
        try:
            said = starter(experiments, tokens)
        except (ValueError, OSError) as exc:
            self.call_from_thread(self.notify, str(exc), title="continue", severity="error")
            return
        self.call_from_thread(self.notify, said, title="continue")
