"""What the admin and agent consoles share around their form posts: running one use case in a
transaction and saying how it went (:func:`act`), and the agent a form picked (:func:`chosen_agent`).
Both blueprints import it from here, not from each other."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request

from .db import db
from .errors import ServiceError
from .models import User


def act(action: Callable[[], str | tuple[str, str]], back: str, *, code: int = 303) -> Any:
    """Run one use case in a transaction: commit and flash its message (``"success"``, or the
    category it returns with it), or roll back and flash the error; then redirect to ``back``.
    The one try/commit/rollback/flash of the consoles (admin and agent)."""
    try:
        said = action()
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        message, category = (said, "success") if isinstance(said, str) else said
        flash(message, category)
    return redirect(back, code=code)


def chosen_agent(field: str = "agent_id") -> User | None:
    """The agent picked in a form; "queue" (or nothing) means back to the queue."""
    value = request.form.get(field, "queue")
    return db.session.get(User, int(value)) if value.isascii() and value.isdigit() and len(value) < 10 else None
