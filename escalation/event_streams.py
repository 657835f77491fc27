"""A ticket's events as a Server-Sent Events response (:func:`events.sse_stream` behind HTTP):
the customer's conversation in the API, the portal's ticket page and the agent console all
stream this way, resuming where ``Last-Event-ID`` (a reconnect) or ``?after=`` says."""
from __future__ import annotations

from flask import Response, current_app, request, stream_with_context

from . import events
from .mail import notify as mail_notify
from .numbers import int_from


def last_event_id() -> int:
    """Where a stream resumes: the ``Last-Event-ID`` header (a reconnect), else ``?after=``."""
    if (request.headers.get("Last-Event-ID") or "").strip():
        return int_from(request.headers, "Last-Event-ID", default=0)
    return int_from(request.args, "after", default=0)


def event_stream(ticket_id: int, *, include_internal: bool, customer: bool = False) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # what the customer's own stream delivered is not e-mailed to them (mail.notify.chat_replies_due)
    delivered = (lambda event_id: mail_notify.seen_live(app, ticket_id, event_id)) if customer else None
    stream = events.sse_stream(app, ticket_id, last_event_id(), include_internal=include_internal,
                               heartbeat=app.config["SSE_HEARTBEAT"], on_delivered=delivered)
    response = Response(stream_with_context(stream), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
