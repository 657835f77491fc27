"""`rasa run` dies (SIGKILL) in the middle of conversations and is started again.

Rasa and the action server run exactly as careops starts them (`make run`): the committed
``chatbot/endpoints.yml`` with its SQL tracker store on the SQLite file ``var/rasa-tracker.sqlite3``
(``CARE_RASA_TRACKER_URL``; a PostgreSQL tracker store shared by two instances is covered by
tests/scaleout/test_two_rasa.py). One conversation runs over REST, one over socket.io
long-polling the way the widget speaks it. After the restart both continue where they were:
the ticket form is still asking for the e-mail address of the name given before the crash,
the history is intact, and both clients get their answers from the new process.
"""
from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from careops.processes import StackConfig, free_port, stack
from careops.supervisor import Supervisor

from ..scaleout.rasa_nodes import SocketIoPolling, check_model, say, tracker, turns
from .conftest import keep_logs

pytestmark = pytest.mark.e2e


def test_rasa_killed_and_restarted_mid_conversation(tmp_path: Path) -> None:
    if missing := check_model():
        pytest.fail("; ".join(missing) + " (make test does it).")
    config = StackConfig(escalation_port=free_port(), rasa_port=free_port(), actions_port=free_port(),
                         instance_dir=tmp_path / "instance", var_dir=tmp_path / "var")
    config.var_dir.mkdir(parents=True)
    processes = {p.name: p for p in stack(config) if p.name in {"actions", "rasa"}}
    supervisor = Supervisor(tmp_path / "log")
    rest_sender = f"restart-{uuid.uuid4().hex[:8]}"
    widget: SocketIoPolling | None = None
    try:
        for process in processes.values():
            supervisor.start(process)
        supervisor.wait_healthy()
        url = config.rasa_url

        assert any("What name" in r for r in say(url, rest_sender, "I want to talk to a person"))
        assert any("Thanks, Austin Employee" in r for r in say(url, rest_sender, "Austin Employee"))
        widget = SocketIoPolling(url).connect()  # a new visitor: Rasa names the conversation
        widget_session, widget_token = widget.session_id, widget.token
        assert "What name" in widget.say("I want to talk to a person")
        before = tracker(url, rest_sender)["events"]

        rasa = supervisor.children["rasa"]
        os.killpg(rasa.pid, signal.SIGKILL)  # a crash: no shutdown, no flushing
        assert rasa.wait(timeout=30) == -signal.SIGKILL
        supervisor.start(processes["rasa"])
        supervisor.wait_healthy(["rasa"])

        state = tracker(url, rest_sender)  # the new process knows the conversation
        assert turns(state["events"]) == turns(before)
        assert state["slots"]["customer_name"] == "Austin Employee"
        assert state["active_loop"]["name"] == "ticket_form"
        assert state["slots"]["requested_slot"] == "customer_email"
        cancelled = say(url, rest_sender, "no")  # … and goes on with the form it was running
        assert any("won't open a ticket" in r for r in cancelled), cancelled
        users = [text for event, text in turns(tracker(url, rest_sender)["events"]) if event == "user"]
        assert users == ["I want to talk to a person", "Austin Employee", "no"]

        # the widget reconnects (its socket died with the process) with its stored session id
        # and token: the new process (same CARE_CHAT_SECRET) continues that conversation
        widget.close()
        widget = SocketIoPolling(url, widget_session, widget_token).connect()
        assert widget.session_id == widget_session
        answer = widget.say("Austin Employee")
        assert "Thanks, Austin Employee" in answer and "e-mail" in answer, answer
        widget_state = tracker(url, widget_session)
        assert widget_state["slots"]["customer_name"] == "Austin Employee"
        assert [t for e, t in turns(widget_state["events"]) if e == "user"] == \
            ["I want to talk to a person", "Austin Employee"]
    finally:
        if widget is not None:
            widget.close()
        supervisor.stop()
        keep_logs("rasa-restart", tmp_path / "log")
