"""The selected node in words (the card above the tabs) and its pairs (the Bench tab)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable, Static

from perfsup.config import Config
from perfsup.results.nodecard import NodeCard, PairRow
from perfsup.results.wording import value_text

CARD_LINES = 7


class NodeCardView(Static):
    """The verdict with its direction and real units, each metric with its role, the
    reason in full, the model's description, tokens and time, then each model call."""

    DEFAULT_CSS = f"""
    NodeCardView {{ height: {CARD_LINES}; padding: 0 1; background: $panel; }}
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("select a node", **kwargs)  # type: ignore[arg-type]
        self.card: NodeCard | None = None

    def show(self, card: NodeCard | None) -> None:
        if card == self.card:
            return
        self.card = card
        if card is None:
            self.update("select a node", layout=False)
            return
        text = Text()
        text.append(f"{card.node_id}  ", style="bold")
        text.append(card.verdict, style=_verdict_style(card.status))
        for line in card.lines()[1:]:
            label, sep, rest = line.partition(": ")
            text.append("\n")
            if sep and (label in ("reason", "change", "threshold raised") or _is_call(label)):
                text.append(f"{label}: ", style="bold")
                text.append(rest)
            else:
                text.append(line)
        # A fixed height (CSS): a new node redraws the card only, never the screen's layout.
        self.update(text, layout=False)

    @property
    def text(self) -> str:
        return "\n".join(self.card.lines()) if self.card else ""


def _is_call(label: str) -> bool:
    """`call 0`: a model call's line (results.callcost.call_line)."""
    word, _, attempt = label.partition(" ")
    return word == "call" and attempt.isdigit()


def _verdict_style(status: str) -> str:
    if status == "kept":
        return "bold green"
    if status in ("discarded", "pruned", "cancelled"):
        return "bold"
    if status in ("queued", "proposing", "applying", "building", "checking", "benchmarking"):
        return "bold yellow"
    return "bold red"


class PairTable(DataTable[str]):
    """The node's benchmark pairs of the primary metric, one row each (visible rows drawn)."""

    DEFAULT_CSS = "PairTable { height: 8; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.shown: tuple[str, tuple[PairRow, ...]] | None = None
        self.unit = ""

    def on_mount(self) -> None:
        self.add_columns("pass", "pair", "parent", "candidate", "this pair")

    def show(self, node_id: str, pairs: list[PairRow], words: tuple[str, str]) -> None:
        key = (node_id, tuple(pairs))
        if key == self.shown:
            return
        had_rows = bool(self.shown and self.shown[1])
        self.shown = key
        if not pairs and not had_rows:
            return  # empty stays empty: moving through unmeasured nodes costs nothing here
        self.clear()
        good, bad = words
        for p in pairs:
            gain = f"{abs(p.gain):.1%} {good if p.gain >= 0 else bad}"
            self.add_row(p.phase, str(p.index + 1), value_text(p.parent, self.unit),
                         value_text(p.candidate, self.unit), gain)  # fmt: skip


def perf_note(config: Config | None) -> str:
    """Why the Perf tab of a node is empty."""
    profile = config.profile if config is not None else None
    if profile is None or (
        profile.python_script is None and profile.go_escape is None and profile.go_pprof is None
    ):
        return (
            "No profile for this node: profiles are off. Set [profile] python_script "
            "(a cProfile of the benchmark), go_pprof (a pprof CPU profile of the Go "
            "benchmarks) or go_escape (Go escape analysis) in perfsup.toml."
        )
    return (
        "No profile for this node yet: perfsup profiles a node once, when it is first "
        "used as a parent; the profile guides the model's next proposals."
    )
