"""Rate limits on the portal, with the limiter and buckets of :mod:`escalation.ratelimit`.

- A failed password sign-in (401) counts in the staff sign-in bucket (``RATE_LIMIT_LOGINS``),
  so guessing cannot alternate between the two sign-in forms to double its attempts.
- Every accepted request that sends an account e-mail (register, sign-in link, password
  reset: answered 202) counts in the ``portal_mail`` bucket (``RATE_LIMIT_PORTAL_MAILS``):
  nobody can use us to flood an inbox, or probe addresses at speed.

While a bucket is full every request of it gets 429 with ``Retry-After``, even a correct one.
"""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template, request

from .. import ratelimit
from . import bp

PORTAL_MAIL = ratelimit.Guard("portal_mail", 202, "RATE_LIMIT_PORTAL_MAILS")
GUARDED = {
    "portal.sign_in": ratelimit.GUARD_LOGIN,
    "portal.register": PORTAL_MAIL,
    "portal.request_link": PORTAL_MAIL,
    "portal.forgot": PORTAL_MAIL,
    "portal.privacy_erase": PORTAL_MAIL,
}


def guard() -> ratelimit.Guard | None:
    return GUARDED.get(request.endpoint or "") if request.method == "POST" else None


@bp.before_request
def refuse_when_blocked() -> Any:
    chosen = guard()
    if chosen is None:
        return None
    verdict = ratelimit.limiter().check(chosen.bucket, ratelimit.client_key(),
                                        int(current_app.config[chosen.limit_setting]))
    if not verdict.blocked:
        return None
    what = "sign-in attempts" if chosen is ratelimit.GUARD_LOGIN else "e-mails asked for"
    message = f"Too many {what} from your network. {ratelimit.when_to_retry(verdict.retry_after)}"
    response = Response(render_template("portal/message.html", title="Please wait", message=message), status=429)
    response.headers["Retry-After"] = str(verdict.retry_after)
    return response


@bp.after_request
def count(response: Response) -> Response:
    chosen = guard()
    if chosen is not None and response.status_code == chosen.failure_status:
        ratelimit.count_failure(chosen)
    return response
