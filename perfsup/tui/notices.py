"""The engine's events a person is told about as they happen (switched on the kind)."""

from __future__ import annotations

from perfsup.store.models import EventKind
from perfsup.tui.service import EventRow

# The engine's event kinds a person is told about as they happen, with a title and
# a severity; a test checks the engine still records each of them.
NOTICES: dict[EventKind, tuple[str, str]] = {
    EventKind.NODE_KEPT: ("new winner", "information"),
    EventKind.BUDGET_REACHED: ("budget reached", "warning"),
    EventKind.MODEL_WAITING: ("model server down", "error"),  # server down or model not there
    EventKind.NOISE_GUARD: ("noisy machine", "warning"),
    EventKind.HOST_GUARD: ("noisy machine", "warning"),  # busy or on battery
}
NOTIFIED_KINDS = tuple(NOTICES)


def event_notice(event: EventRow) -> tuple[str, str, str] | None:
    """(title, message, severity) for the events a person wants to hear about."""
    try:
        kind = EventKind(event.kind)
    except ValueError:  # a kind this version does not know (a newer engine's)
        return None
    if kind not in NOTICES:
        return None
    title, severity = NOTICES[kind]
    message = event.message
    if kind is EventKind.NODE_KEPT:
        message = f"{event.node_id} {message}"
    return (title, message, severity)
