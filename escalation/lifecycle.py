"""The ticket lifecycle: one table of allowed transitions.

Every status change goes through :func:`check`, so a rule lives here and nowhere else.
The ``owner`` column says who holds the customer's conversation: the bot, the queue
(a ticket waiting for a person) or an agent.
"""
from __future__ import annotations

from .errors import TransitionRefused

# action -> (statuses it may start from, status it leads to, owner afterwards or None to keep)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str | None]] = {
    "assign": (frozenset({"new", "assigned"}), "assigned", "queued"),
    "acknowledge": (frozenset({"assigned"}), "acknowledged", "agent"),
    "reply": (frozenset({"acknowledged", "in_progress", "waiting_on_customer"}), "waiting_on_customer", "agent"),
    "customer_reply": (frozenset({"waiting_on_customer", "in_progress"}), "in_progress", None),
    "reopen": (frozenset({"resolved"}), "in_progress", "agent"),
    # the customer reopens a ticket no agent ever held: back to the queue, not to nobody
    "requeue": (frozenset({"resolved"}), "new", "queued"),
    # the customer says "this is solved" (the portal), whoever holds the ticket
    "customer_resolve": (frozenset({"new", "assigned", "acknowledged", "in_progress", "waiting_on_customer"}),
                         "resolved", "bot"),
    "resolve": (frozenset({"acknowledged", "in_progress", "waiting_on_customer"}), "resolved", "bot"),
    "close": (frozenset({"resolved"}), "closed", "bot"),
    # hand-offs: another agent takes over (and acknowledges anew), or the ticket goes back to the queue
    "hand_off": (frozenset({"assigned", "acknowledged", "in_progress", "waiting_on_customer"}), "assigned", "queued"),
    "unassign": (frozenset({"assigned", "acknowledged", "in_progress", "waiting_on_customer"}), "new", "queued"),
    # discarding: spam is closed without a word to the sender; a duplicate is merged into another ticket
    "close_spam": (frozenset({"new", "assigned", "acknowledged", "in_progress", "waiting_on_customer",
                              "resolved"}), "closed", "bot"),
    "merge": (frozenset({"new", "assigned", "acknowledged", "in_progress", "waiting_on_customer", "resolved"}),
              "closed", "bot"),
    # a ticket linked to a problem ticket is resolved with it, from any open status
    "resolve_with_problem": (frozenset({"new", "assigned", "acknowledged", "in_progress", "waiting_on_customer"}),
                             "resolved", "bot"),
}

OPEN_STATUSES = frozenset({"new", "assigned", "acknowledged", "in_progress", "waiting_on_customer"})
DONE_STATUSES = frozenset({"resolved", "closed"})


def check(action: str, status: str) -> tuple[str, str | None]:
    """The status and owner that ``action`` leads to from ``status``, or TransitionRefused."""
    try:
        sources, target, owner = TRANSITIONS[action]
    except KeyError:
        raise TransitionRefused(f"Unknown action {action!r}.", details={"action": action}) from None
    if status not in sources:
        allowed = sorted(a for a, (src, _, _) in TRANSITIONS.items() if status in src)
        raise TransitionRefused(
            f"A ticket that is {status.replace('_', ' ')} cannot be {action.replace('_', ' ')}d"
            f"; allowed now: {', '.join(allowed) or 'nothing'}.",
            details={"action": action, "status": status, "allowed": allowed},
        )
    return target, owner


def allowed_actions(status: str) -> list[str]:
    return sorted(a for a, (src, _, _) in TRANSITIONS.items() if status in src)
