"""Hand-offs, spam and merges: an acknowledged ticket can change hands, spam closes in silence,
two tickets of one customer become one."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from escalation import discard, handoffs, tickets
from escalation.db import db
from escalation.errors import Forbidden, TransitionRefused, ValidationFailed
from escalation.mail import inbound
from escalation.models import AuditEntry, OutboxMail, Ticket, User

from .test_mail_inbound import raw_mail


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def user(name: str) -> User:
    return db.session.scalar(select(User).where(User.username == name))


def acknowledged_by(agent: User, email: str = "laura@example.com", subject: str = "Account dormant") -> Ticket:
    ticket = tickets.open_ticket(db.session, name="Laura", email=email, subject=subject).ticket
    tickets.assign(db.session, ticket, agent, "kim")
    tickets.acknowledge(db.session, ticket, agent)
    db.session.commit()
    return ticket


def mails(kind: str | None = None) -> int:
    query = select(func.count()).select_from(OutboxMail)
    return db.session.scalar(query.where(OutboxMail.kind == kind) if kind else query)


def test_an_acknowledged_ticket_goes_to_another_agent_with_a_note(ctx):
    tim, terrence, kim = user("tim"), user("terrence"), user("kim")
    ticket = acknowledged_by(tim)
    handoffs.hand_off(db.session, ticket, kim, to=terrence, note="Tim is ill; the customer wants a call back.")
    db.session.commit()
    assert (ticket.status, ticket.owner, ticket.assignee_id) == ("assigned", "queued", terrence.id)
    note = ticket.messages[-1]
    assert note.internal and "Tim is ill" in note.body and "to Terrence" in note.body
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "hand_off")).one()
    assert audit.details["previous"] == "tim" and audit.details["agent"] == "terrence"
    assert mails("assigned") == 2  # Tim's assignment, then Terrence's
    allocated = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "allocated")
                                   .order_by(OutboxMail.id)).all()
    assert [m.to_addr for m in allocated] == ["laura@example.com"] * 2  # the customer hears who has it now
    assert "Terrence" in allocated[-1].subject + allocated[-1].body_text
    tickets.acknowledge(db.session, ticket, terrence)  # Terrence takes over the conversation
    assert ticket.owner == "agent"


def test_back_to_the_queue_and_who_may_hand_off(ctx):
    tim, terrence = user("tim"), user("terrence")
    ticket = acknowledged_by(tim)
    with pytest.raises(Forbidden):
        handoffs.hand_off(db.session, ticket, terrence, to=terrence)  # not Terrence's ticket to give
    with pytest.raises(ValidationFailed):
        handoffs.hand_off(db.session, ticket, tim, to=tim)  # already his
    handoffs.hand_off(db.session, ticket, tim, to=None)
    db.session.commit()
    assert (ticket.status, ticket.assignee_id) == ("new", None)
    with pytest.raises(TransitionRefused):  # a new ticket is assigned, not handed off
        handoffs.hand_off(db.session, ticket, user("kim"), to=terrence)


def test_an_absent_agents_open_tickets_move_in_one_action(ctx):
    tim, terrence, kim = user("tim"), user("terrence"), user("kim")
    open_ones = [acknowledged_by(tim, subject=f"Question {i}") for i in range(3)]
    done = acknowledged_by(tim, subject="Done already")
    tickets.resolve(db.session, done, tim, "Fixed.")
    db.session.commit()
    moved = handoffs.move_all(db.session, tim, kim, to=terrence)
    db.session.commit()
    assert moved == [t.number for t in open_ones]
    assert all(t.assignee_id == terrence.id for t in open_ones) and done.assignee_id == tim.id
    assert handoffs.open_tickets_of(db.session, tim) == []


def test_spam_closes_without_mail_and_blocks_the_sender(ctx):
    kim = user("kim")
    ticket = tickets.open_ticket(db.session, name="Spammer", email="spam@bad.example", subject="Cheap pills").ticket
    db.session.commit()
    before = mails()
    discard.close_as_spam(db.session, ticket, kim, block=True)
    db.session.commit()
    assert ticket.status == "closed" and mails() == before  # nothing to the sender
    received = inbound.receive_and_commit(db.session, raw_mail(sender="spam@bad.example", message_id="<s2@x>"))
    assert received.outcome == "ignored" and received.number is None and "blocked sender" in received.reason
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1  # no new ticket


def test_merge_joins_threads_and_tells_the_surviving_number(ctx):
    tim, kim = user("tim"), user("kim")
    target = acknowledged_by(tim, subject="Account dormant")
    source = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Dormant again",
                                 transcript=[{"sender": "user", "text": "still locked", "intent": "ask_question"}]).ticket
    tickets.customer_message(db.session, source, "Here is my customer number 77")
    db.session.commit()
    discard.merge(db.session, source, target, kim)
    db.session.commit()
    assert source.status == "closed" and source.merged_into_id == target.id
    bodies = [m.body for m in target.messages]
    assert "[from " + source.number + "] Here is my customer number 77" in bodies
    assert any(f"merged into {target.number}" in b for b in bodies)
    assert any(f"merged into {target.number}" in m.body and not m.internal for m in source.messages)
    assert target.transcript[-1]["merged_from"] == source.number
    from escalation.errors import Conflict

    with pytest.raises(Conflict, match=f"merged into {target.number}"):
        tickets.customer_message(db.session, source, "anyone there?")
    other = tickets.open_ticket(db.session, name="Bob", email="bob@example.com", subject="Other").ticket
    with pytest.raises(ValidationFailed, match="different customers"):
        discard.merge(db.session, other, target, kim)
    with pytest.raises(ValidationFailed):
        discard.merge(db.session, target, target, kim)


def test_merge_moves_the_attachments_with_their_messages(ctx, auth):
    """The merged ticket's files belong to the surviving ticket afterwards: each under its copied
    message in the target's thread, and downloadable from there."""
    from escalation import attachments
    from escalation.models import Attachment

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    tim, kim = user("tim"), user("kim")
    target = acknowledged_by(tim, subject="Account dormant")
    source = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Dormant again").ticket
    tickets.customer_message(db.session, source, "Screenshot of the error",
                             uploads=[attachments.Upload("error.png", "image/png", png)])
    attachments.store(db.session, source, [attachments.Upload("form.txt", "text/plain", b"from the form\n")],
                      "customer")  # a file of the ticket itself, on no message
    db.session.commit()
    discard.merge(db.session, source, target, kim)
    db.session.commit()
    files = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(f.filename, f.ticket_id) for f in files] == [("error.png", target.id), ("form.txt", target.id)]
    with_file = next(m for m in target.messages if m.attachments)
    assert with_file.body == f"[from {source.number}] Screenshot of the error"
    assert [a.filename for a in with_file.attachments] == ["error.png"]
    assert not any(m.attachments for m in source.messages)
    # the assigned agent downloads it from the surviving ticket
    assert auth.login("tim").status_code in (302, 303)
    response = auth.client.get(f"/agent/attachments/{with_file.attachments[0].id}")
    assert response.status_code == 200 and response.get_data() == png
    response.close()
