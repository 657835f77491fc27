"""Who is asking: console logins (Flask-Login, roles) and the bot's service token."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlparse

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from .db import db
from .errors import RateLimited, Unauthorized
from .http import error_response, wants_json
from .models import User
from .users import authenticate, end_sessions

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to use the console."

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user a session names as ``"<id>:<session version>"`` (:meth:`User.get_id`); a session
    naming an older version (before a logout or a password change) loads nobody."""
    ident, _, version = user_id.partition(":")
    if not (ident.isascii() and ident.isdigit() and version.isascii() and version.isdigit()) \
            or len(ident) > 18 or len(version) > 18:
        return None  # a session from before migration 0009, or not one of ours
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def role_required(*roles: str) -> Callable[[F], F]:
    """Console routes: signed in, with one of ``roles`` (403 otherwise)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def has_service_token() -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = current_app.config["SERVICE_TOKEN"]
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


def service_token_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not has_service_token():
            raise Unauthorized("Send the service token as 'Authorization: Bearer <token>' "
                               "(setting CARE_SERVICE_TOKEN).", code="service_token_required")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirect).

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/\t/evil.example``
    would be followed as ``//evil.example``: any control character, space or backslash refuses.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch <= " " or ch == "\\" or ch == "\x7f" for ch in target):
        return None
    parsed = urlparse(target)
    return target if not parsed.scheme and not parsed.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data or "", form.password.data or "")
        if user is None:
            flash("Wrong username or password. Check both and try again.", "error")
            return render_template("auth/login.html", form=form), 401
        login_user(user)
        home = url_for("admin.queue") if user.role == "admin" else url_for("agent.my_tickets")
        return redirect(safe_next(request.args.get("next")) or home)
    return render_template("auth/login.html", form=form)


@bp.errorhandler(RateLimited)
def too_many_sign_ins(exc: RateLimited) -> Any:
    """Blocked after too many failed sign-ins: the sign-in page says until when (JSON clients get the envelope)."""
    if wants_json():
        return error_response(exc)
    flash(exc.message, "error")
    return render_template("auth/login.html", form=LoginForm()), 429, {"Retry-After": str(exc.retry_after)}


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    if current_user.is_authenticated:
        # ends this session everywhere it was copied to: the version it names is gone
        end_sessions(db.session, current_user)
        db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.register_blueprint(bp)
