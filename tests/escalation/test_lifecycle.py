"""Every transition of the ticket lifecycle table, allowed and refused."""
from __future__ import annotations

import pytest

from escalation import lifecycle
from escalation.errors import TransitionRefused
from escalation.models import STATUSES

ALLOWED = {
    ("assign", "new"): ("assigned", "queued"),
    ("assign", "assigned"): ("assigned", "queued"),
    ("acknowledge", "assigned"): ("acknowledged", "agent"),
    ("reply", "acknowledged"): ("waiting_on_customer", "agent"),
    ("reply", "in_progress"): ("waiting_on_customer", "agent"),
    ("reply", "waiting_on_customer"): ("waiting_on_customer", "agent"),
    ("customer_reply", "waiting_on_customer"): ("in_progress", None),
    ("customer_reply", "in_progress"): ("in_progress", None),
    ("reopen", "resolved"): ("in_progress", "agent"),
    ("requeue", "resolved"): ("new", "queued"),
    ("customer_resolve", "new"): ("resolved", "bot"),
    ("customer_resolve", "assigned"): ("resolved", "bot"),
    ("customer_resolve", "acknowledged"): ("resolved", "bot"),
    ("customer_resolve", "in_progress"): ("resolved", "bot"),
    ("customer_resolve", "waiting_on_customer"): ("resolved", "bot"),
    ("resolve", "acknowledged"): ("resolved", "bot"),
    ("resolve", "in_progress"): ("resolved", "bot"),
    ("resolve", "waiting_on_customer"): ("resolved", "bot"),
    ("close", "resolved"): ("closed", "bot"),
    **{("hand_off", s): ("assigned", "queued") for s in ("assigned", "acknowledged", "in_progress",
                                                          "waiting_on_customer")},
    **{("unassign", s): ("new", "queued") for s in ("assigned", "acknowledged", "in_progress",
                                                     "waiting_on_customer")},
    **{(a, s): ("closed", "bot") for a in ("close_spam", "merge")
       for s in ("new", "assigned", "acknowledged", "in_progress", "waiting_on_customer", "resolved")},
    **{("resolve_with_problem", status): ("resolved", "bot")
       for status in ("new", "assigned", "acknowledged", "in_progress", "waiting_on_customer")},
}

CASES = [(action, status) for action in lifecycle.TRANSITIONS for status in STATUSES]


@pytest.mark.parametrize("action, status", CASES)
def test_transition_table(action, status):
    if (action, status) in ALLOWED:
        assert lifecycle.check(action, status) == ALLOWED[(action, status)]
    else:
        with pytest.raises(TransitionRefused) as refused:
            lifecycle.check(action, status)
        assert refused.value.details["allowed"] == lifecycle.allowed_actions(status)
        assert status.replace("_", " ") in refused.value.message


def test_closed_is_final():
    assert lifecycle.allowed_actions("closed") == []
