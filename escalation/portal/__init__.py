"""The customer portal (``/portal``): accounts, My tickets, raising and answering tickets.

Customer sessions are not staff sessions: the signed-in customer is kept under its own key
in the session cookie (``portal``: account id and session version), which Flask-Login never
reads, so a customer is an anonymous visitor to ``/admin`` and ``/agent`` (sent to the staff
sign-in page) and a staff member is a stranger here. :func:`load_customer` checks the cookie
against the database on every portal request; see :mod:`.accounts` for why an old cookie fails
after signing out.

Rate limits (:mod:`.limits`) and the security headers of the consoles apply to every page.
A signed-in customer's pages embed the chat widget with a signed identity
(:mod:`escalation.widget_identity`), so the bot does not ask them their name and e-mail again; their
Content-Security-Policy lets the widget reach the bot (``RASA_URL``) and nothing else.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, request, session, url_for

from .. import widget_identity
from ..db import db
from ..http import CONSOLE_CSP
from ..models import CustomerAccount
from . import accounts

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "portal"

bp = Blueprint("portal", __name__, url_prefix="/portal")


def link_settings() -> accounts.LinkSettings:
    config = current_app.config
    minutes = int(config["PORTAL_LINK_MINUTES"]) * 60
    return accounts.LinkSettings(config["SECRET_KEY"], {"verify": int(config["PORTAL_VERIFY_HOURS"]) * 3600,
                                                        "sign_in": minutes, "reset": minutes, "erase": minutes})


def current_customer() -> CustomerAccount | None:
    return g.get("portal_account")


@bp.before_app_request
def load_customer() -> None:
    """The signed-in customer, if the session cookie's version is still the account's."""
    g.portal_account = None
    if request.blueprint != "portal" or SESSION_KEY not in session:
        return
    account = accounts.session_account(db.session, session.get(SESSION_KEY))
    if account is None:
        session.pop(SESSION_KEY, None)  # signed out elsewhere, or a replayed old cookie
    g.portal_account = account


def start_session(account: CustomerAccount, how: str) -> None:
    session.clear()  # a fresh session: nothing from before signing in carries over
    session[SESSION_KEY] = list(accounts.signed_in(db.session, account, how))
    session.permanent = False


def customer_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_customer() is None:
            return redirect(url_for("portal.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def widget_csp() -> str:
    """The consoles' policy, with the bot's and the API's origins added for the widget's requests."""
    extra = " ".join(o for o in {_origin(current_app.config["RASA_URL"]), _origin(current_app.config["PUBLIC_URL"])}
                     if o)
    return CONSOLE_CSP.replace("connect-src 'self'", f"connect-src 'self' {extra}".rstrip())


def widget_options() -> dict[str, str] | None:
    """The widget's options on a signed-in customer's page (None for anyone else)."""
    account = current_customer()
    if account is None:
        return None
    config = current_app.config
    return {"rasa_url": config["RASA_URL"], "api_url": config["PUBLIC_URL"].rstrip("/"),
            "identity": widget_identity.issue(config, account)}


@bp.after_request
def portal_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy",
                                    widget_csp() if current_customer() is not None else CONSOLE_CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")  # personal pages: never from a shared cache
    return response


@bp.app_context_processor
def portal_context() -> dict[str, Any]:
    if not request:
        return {"portal_customer": None, "portal_widget": None}
    return {"portal_customer": current_customer(), "portal_widget": widget_options()}


from . import account_views, limits, privacy_views, ticket_views  # noqa: E402,F401  (routes register on bp)
