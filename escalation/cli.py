"""``flask --app escalation <command>``: init-db, worker, create-user, set-password, kb-build, mail-in, demo-data."""
from __future__ import annotations

from typing import BinaryIO

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .db import db


@click.command("init-db")
@click.option("--demo/--no-demo", default=True,
              help="Create the demo admin, agents and canned responses if missing.")
@click.option("--demo-password", default=None, help="Password for the demo users (default: random, printed once).")
def init_db(demo: bool, demo_password: str | None) -> None:
    """Create or migrate the database to the latest schema; add the demo users and canned responses."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the outcome, not every plugin it loads
    from .schema import upgrade
    from .users import seed_demo_users

    upgrade(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo("database is at the latest schema")
    if demo:
        from .canned import seed_demo

        created = seed_demo_users(db.session, demo_password)
        responses = seed_demo(db.session)
        db.session.commit()
        for username, password in created.items():
            click.echo(f"  demo user created: {username} / {password}")
        if not created:
            click.echo("  demo users already exist (passwords were printed when they were created)")
        if responses:
            click.echo(f"  demo canned responses added: {', '.join(responses)}")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def worker(once: bool) -> None:
    """Run the background worker until SIGTERM/Ctrl-C."""
    from .worker import run

    run(current_app._get_current_object(), once=once)  # type: ignore[attr-defined]


@click.command("create-user")
@click.argument("username")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["admin", "agent"]), default="agent")
@click.option("--skill", "skills", multiple=True, help="A category the agent handles; repeat for several.")
@click.password_option()
def create_user_cmd(username: str, name: str, email: str, role: str, skills: tuple[str, ...], password: str) -> None:
    """Add a console user."""
    from .users import create_user

    create_user(db.session, username=username, name=name, email=email, role=role, password=password,
                skills=list(skills))
    db.session.commit()
    click.echo(f"created {role} {username}")


@click.command("demo-data")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Only when the desk has no tickets yet (what `make run` does).")
def demo_data(if_empty: bool) -> None:
    """Load six weeks of realistic history (tickets, ratings, bot outcomes) into a development desk.

    Idempotent; refuses unless the database is the embedded SQLite one (never in production).
    """
    from sqlalchemy import func, select

    from .demo_data import RefusedHere, check_not_production, load
    from .models import Ticket

    try:
        check_not_production(current_app.config)
    except RefusedHere as exc:
        if if_empty:  # make run on a production-like setup: say so, do not fail the start
            click.echo(f"demo data skipped: {exc}")
            return
        raise click.ClickException(str(exc)) from None
    if if_empty and db.session.scalar(select(func.count()).select_from(Ticket)):
        return
    loaded = load(db.session)
    db.session.commit()
    if loaded is None:
        click.echo("demo data is already loaded")
    else:
        click.echo(f"demo data loaded: {loaded.tickets} tickets over six weeks, {loaded.surveys} ratings, "
                   f"{loaded.bot_outcomes} bot conversations")


@click.command("set-password")
@with_appcontext
@click.argument("username")
@click.password_option()
def set_password_cmd(username: str, password: str) -> None:
    """Give a console user a new password; every session they have is signed out."""
    from sqlalchemy import select

    from .errors import ServiceError
    from .models import User
    from .users import set_password

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No user {username!r}.")
    try:
        set_password(db.session, user, password)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"new password set for {username}; their sessions are signed out")


EX_DATAERR, EX_TEMPFAIL = 65, 75  # sysexits.h: what a mail server's pipe understands


@click.command("mail-in")
@with_appcontext
@click.argument("message", type=click.File("rb"), default="-")
def mail_in(message: BinaryIO) -> None:
    """Read one raw e-mail (RFC 822) from stdin (or MESSAGE): open a ticket or add the reply to one.

    For a mail server's pipe, e.g. a Postfix alias `care: "|flask --app escalation mail-in"`.
    Exit 0 when handled (auto-replies and bounces are handled by dropping them), 75 to make
    the mail server try again later (database unavailable), 65 for an empty message.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from .mail.inbound import receive_and_commit

    raw = message.read()
    if not raw.strip():
        click.echo("mail-in: no message on stdin", err=True)
        raise SystemExit(EX_DATAERR)
    try:
        result = receive_and_commit(db.session, raw)
    except SQLAlchemyError as exc:
        db.session.rollback()
        click.echo(f"mail-in: database unavailable ({exc.__class__.__name__}); try again later", err=True)
        raise SystemExit(EX_TEMPFAIL) from exc
    click.echo(str(result))


def init_app(app: Flask) -> None:
    for command in (init_db, worker, create_user_cmd, set_password_cmd, mail_in, demo_data):
        app.cli.add_command(command)
