"""SLA clocks: targets by priority, pause while waiting on the customer, at risk, breach."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from escalation import sla, tickets
from escalation.db import db
from escalation.models import AuditEntry, SlaPolicy, User, utcnow
from escalation.worker import run_pass


def test_policies_are_seeded_by_the_migration(app):
    with app.app_context():
        rows = {p.priority: (p.first_response_minutes, p.resolution_minutes) for p in db.session.scalars(select(SlaPolicy))}
    assert rows == {k: v for k, v in sla.DEFAULT_POLICIES.items()}


def test_due_times_follow_priority(app):
    with app.app_context():
        t = tickets.open_ticket(db.session, name="A", email="a@example.com", subject="I was hacked").ticket
        assert t.priority == "urgent"
        assert t.first_response_due - t.created_at == timedelta(minutes=15)
        assert t.resolution_due - t.created_at == timedelta(hours=4)


def test_at_risk_then_breached_and_audited(app):
    with app.app_context():
        t = tickets.open_ticket(db.session, name="A", email="a@example.com", subject="question").ticket
        db.session.commit()
        start = t.created_at
        assert sla.check_all(db.session, now=start + timedelta(hours=1)) == []
        changes = sla.check_all(db.session, now=start + timedelta(hours=3, minutes=30))
        assert [(c[1], c[2]) for c in changes] == [("ok", "at_risk")]
        changes = sla.check_all(db.session, now=start + timedelta(hours=4, minutes=1))
        assert [(c[1], c[2]) for c in changes] == [("at_risk", "breached")]
        db.session.commit()
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.ticket_id == t.id)).all()
        assert actions[-2:] == ["sla_at_risk", "sla_breached"]


def test_waiting_on_customer_pauses_the_resolution_clock(app):
    with app.app_context():
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        t = tickets.open_ticket(db.session, name="A", email="a@example.com", subject="question").ticket
        tickets.assign(db.session, t, tim, "kim")
        tickets.acknowledge(db.session, t, tim)
        due = t.resolution_due
        paused_at = utcnow()
        sla.on_status(t, "acknowledged", "waiting_on_customer", paused_at)
        # while paused, even far past the due time nothing breaches
        assert sla.evaluate(t, db.session, now=due + timedelta(days=3)) == "ok"
        sla.on_status(t, "waiting_on_customer", "in_progress", paused_at + timedelta(hours=5))
        assert t.resolution_due == due + timedelta(hours=5)


def test_resolving_meets_the_sla_and_worker_pass_runs(app):
    with app.app_context():
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        t = tickets.open_ticket(db.session, name="A", email="a@example.com", subject="question").ticket
        tickets.assign(db.session, t, tim, "kim")
        tickets.acknowledge(db.session, t, tim)
        tickets.resolve(db.session, t, tim, "fixed")
        db.session.commit()
        assert t.sla_state == "met"
    assert run_pass(app, "test-worker")["sla_changes"] == 0
