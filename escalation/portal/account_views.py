"""Account pages: register, verify, sign in (password or e-mailed link), reset, sign out.

Every e-mailed link opens a page with a button; only the button (a POST with the CSRF token)
uses the link, so a mail scanner that follows links cannot spend it or sign itself in.
The three pages that may send a mail answer 202 and the same words whether the address is
known or not.
"""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for

from ..auth import safe_next
from ..db import db
from ..errors import ValidationFailed
from . import accounts, bp, current_customer, customer_required, link_settings, mails, start_session
from .forms import ButtonForm, EmailForm, NewPasswordForm, RegisterForm, SignInForm

CHECK_INBOX = ("If {email} can receive our mail, a message is on its way with a link that works once. "
               "Nothing arrived after a few minutes? Check the spam folder, then ask again.")


def _form_page(form: Any, *, title: str, submit: str, status: int = 200, intro: str = "",
               links: tuple[tuple[str, str], ...] = (), error: str = "") -> Any:
    return render_template("portal/form.html", form=form, title=title, submit=submit, intro=intro,
                           links=links, error=error), status


def _sent(email: str) -> Any:
    return render_template("portal/message.html", title="Check your inbox",
                           message=CHECK_INBOX.format(email=email)), 202


SIGN_IN_LINKS = (("portal.request_link", "E-mail me a sign-in link instead"),
                 ("portal.forgot", "I forgot my password"), ("portal.register", "Register"))


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    form = RegisterForm()
    page = {"title": "Register", "submit": "Register", "links": (("portal.sign_in", "I already have an account"),),
            "intro": "Register once with the e-mail address you use with us: every ticket of that address, "
                     "from the chat, e-mail or this site, appears in one list."}
    if not form.validate_on_submit():
        return _form_page(form, status=422 if request.method == "POST" else 200, **page)
    try:
        result = accounts.register(db.session, name=form.name.data or "", email=form.email.data or "",
                                   password=form.password.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _form_page(form, status=422, error=exc.message, **page)
    mails.send(db.session, result.account, "registered" if result.already_verified else "verify")
    db.session.commit()
    return _sent(result.account.customer.email)


def _link_page(purpose: str, token: str, *, title: str, submit: str, intro: str, act: Any) -> Any:
    form = NewPasswordForm() if purpose == "reset" else ButtonForm()
    if not form.validate_on_submit():
        return _form_page(form, title=title, submit=submit, intro=intro,
                          status=422 if request.method == "POST" else 200)
    try:
        return act(form)
    except accounts.LinkRefused as exc:
        db.session.rollback()
        return render_template("portal/message.html", title="This link does not work", message=exc.message,
                               links=(("portal.request_link", "E-mail me a sign-in link"),
                                      ("portal.forgot", "Reset my password"))), 400
    except ValidationFailed as exc:
        db.session.rollback()
        return _form_page(form, title=title, submit=submit, intro=intro, status=422, error=exc.message)


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> Any:
    def act(_form: Any) -> Any:
        account = accounts.verify(db.session, link_settings(), token)
        start_session(account, "verification")
        db.session.commit()
        flash("Your e-mail address is confirmed. Here are your tickets.", "success")
        return redirect(url_for("portal.my_tickets"))

    return _link_page("verify", token, title="Confirm your e-mail address", submit="Confirm and sign in",
                      intro="One click to finish registering.", act=act)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    form = SignInForm()
    page = {"title": "Sign in", "submit": "Sign in", "links": SIGN_IN_LINKS}
    if not form.validate_on_submit():
        return _form_page(form, status=422 if request.method == "POST" else 200, **page)
    email, password = form.email.data or "", form.password.data or ""
    account = accounts.authenticate(db.session, email, password)
    if account is None:
        pending = accounts.unverified_with_password(db.session, email, password)
        if pending is not None:
            mails.send(db.session, pending, "verify")
            db.session.commit()
            return _form_page(form, status=401, error="Confirm your e-mail address first: we sent you a new "
                              "link (the earlier ones no longer work).", **page)
        return _form_page(form, status=401, error="Wrong e-mail address or password. Check both, or ask for "
                          "a sign-in link by e-mail.", **page)
    start_session(account, "password")
    db.session.commit()
    return redirect(safe_next(request.args.get("next")) or url_for("portal.my_tickets"))


@bp.route("/sign-in/link", methods=["GET", "POST"])
def request_link() -> Any:
    form = EmailForm()
    page = {"title": "Sign in with an e-mailed link", "submit": "E-mail me a link", "links": SIGN_IN_LINKS[1:],
            "intro": "No password needed: we e-mail you a link that signs you in once."}
    if not form.validate_on_submit():
        return _form_page(form, status=422 if request.method == "POST" else 200, **page)
    account = accounts.request_link(db.session, form.email.data or "")
    if account is not None:
        mails.send(db.session, account, "sign_in")
        db.session.commit()
    return _sent((form.email.data or "").strip())


@bp.route("/sign-in/link/<token>", methods=["GET", "POST"])
def use_link(token: str) -> Any:
    def act(_form: Any) -> Any:
        account = accounts.use_link(db.session, link_settings(), token, "sign_in")
        start_session(account, "e-mail link")
        db.session.commit()
        return redirect(url_for("portal.my_tickets"))

    return _link_page("sign_in", token, title="Sign in", submit="Sign in",
                      intro="Press the button to sign in. The link then stops working.", act=act)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> Any:
    form = EmailForm()
    page = {"title": "Reset your password", "submit": "E-mail me a reset link", "links": SIGN_IN_LINKS[::2]}
    if not form.validate_on_submit():
        return _form_page(form, status=422 if request.method == "POST" else 200, **page)
    try:
        account = accounts.find(db.session, accounts.normalise_email(form.email.data or ""))
    except ValidationFailed:
        account = None
    if account is not None:
        mails.send(db.session, account, "reset")
        db.session.commit()
    return _sent((form.email.data or "").strip())


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    def act(form: Any) -> Any:
        account = accounts.reset_password(db.session, link_settings(), token, form.password.data or "")
        start_session(account, "password reset")
        db.session.commit()
        flash("Your new password is set. Every other session of your account was signed out.", "success")
        return redirect(url_for("portal.my_tickets"))

    return _link_page("reset", token, title="Choose a new password", submit="Set the new password",
                      intro="Setting it signs you out everywhere else.", act=act)


@bp.post("/sign-out")
@customer_required
def sign_out() -> Any:
    form = ButtonForm()
    if not form.validate_on_submit():  # only reached with CSRF enabled and a bad token
        return redirect(url_for("portal.my_tickets"))
    account = current_customer()
    assert account is not None
    accounts.sign_out(db.session, account)
    db.session.commit()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("portal.sign_in"))
