"""KB search for the bot, the widget and the agent console."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from ..auth import has_service_token
from ..errors import Forbidden, ValidationFailed
from ..kb import get_index
from . import bp

MAX_QUERY = 1000


@bp.get("/kb/search")
def kb_search() -> Any:
    query = request.args.get("q", "").strip()
    if not query:
        raise ValidationFailed("Give a question in the 'q' parameter.", details={"field": "q"})
    if len(query) > MAX_QUERY:
        raise ValidationFailed(f"The question is longer than {MAX_QUERY} characters; shorten it.",
                               details={"field": "q", "length": len(query)})
    try:
        k = int(request.args.get("k", "5"))
    except ValueError:
        raise ValidationFailed("'k' must be a whole number from 1 to 20.", details={"field": "k"}) from None
    if not 1 <= k <= 20:
        raise ValidationFailed("'k' must be a whole number from 1 to 20.", details={"field": "k"})
    context = request.args.get("context", "").strip() or None
    if context is not None and len(context) > MAX_QUERY:
        raise ValidationFailed(f"The context is longer than {MAX_QUERY} characters; send the previous "
                               "question only.", details={"field": "context", "length": len(context)})
    audience = request.args.get("audience", "public")
    if audience not in {"public", "employee", "internal"}:
        raise ValidationFailed("'audience' is 'public', 'employee' or 'internal'.", details={"field": "audience"})
    # employee articles (asked for by the bot in Slack) and internal ones (agents) are not for
    # the website's visitors
    if audience != "public" and not (has_service_token() or
                                     (current_user.is_authenticated and current_user.role in {"agent", "admin"})):
        raise Forbidden("Employee and internal articles need the service token or a console sign-in.")
    index = get_index()
    index.refresh()  # another service process may have published an article: cheap when not
    result = index.search(query, k=k, audience=audience, context=context)
    return jsonify({
        "query": query, "answerable": bool(result.answerable),
        "hits": [{"article_id": h.article_id, "title": h.title, "url": h.url, "snippet": h.snippet,
                  "score": round(float(h.score), 4), "section": section_json(h)} for h in result.hits],
    })


def section_json(hit: Any) -> dict[str, Any]:
    """The answering section of a ``kb_index.Hit``: whole when ``complete``, else its start; ``url`` goes
    to the section's heading on the help page."""
    section = hit.section
    return {"heading": section.heading, "anchor": section.anchor, "text": section.text,
            "complete": section.complete, "url": f"{hit.url}#{section.anchor}" if hit.url else ""}
