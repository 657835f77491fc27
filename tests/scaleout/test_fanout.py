"""Two escalation processes (gunicorn) on one PostgreSQL database, live-chat events fanned
out through Redis: an agent writing on one process reaches a customer streaming from the
other.

Each process waits ``CARE_SSE_HEARTBEAT`` (set to 300 s here) before re-reading the
database on its own, so the message can only arrive within the test's 60 s window if the
other process's Redis announcement woke the stream.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from careops.processes import ROOT, VENV, Process, free_port
from careops.supervisor import Supervisor

from ..databases import postgres_database

pytestmark = pytest.mark.postgres
TOKEN = "fanout-service-token"
PASSWORD = "fanout-password"


def csrf(session: requests.Session, url: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', session.get(url, timeout=30).text)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


@pytest.fixture
def two_processes(tmp_path: Path):
    with postgres_database() as url:
        env = {**os.environ, "CARE_DATABASE_URL": url, "CARE_REDIS_URL": "redis://127.0.0.1:6379/0",
               "CARE_SERVICE_TOKEN": TOKEN, "CARE_SECRET_KEY": "fanout-secret", "CARE_SSE_HEARTBEAT": "300",
               "CARE_INSTANCE_DIR": str(tmp_path / "instance")}
        subprocess.run([str(VENV / "flask"), "--app", "escalation", "init-db", "--demo-password", PASSWORD],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        supervisor = Supervisor(tmp_path / "log")
        urls = []
        for name in ("escalation-a", "escalation-b"):
            port = free_port()
            urls.append(f"http://127.0.0.1:{port}")
            supervisor.start(Process(name, [str(VENV / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class",
                                            "gthread", "--threads", "8", "escalation:create_app()"],
                                     f"{urls[-1]}/healthz", env=env))
        try:
            supervisor.wait_healthy()
            yield urls
        finally:
            supervisor.stop()


def test_agent_on_one_process_reaches_customer_on_the_other(two_processes):
    a, b = two_processes
    bot = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "fanout-1"}
    opened = requests.post(f"{a}/api/v1/tickets", headers=bot, timeout=30, json={
        "name": "Laura", "email": "laura@example.com", "subject": "Reactivate my account"}).json()
    number, token = opened["number"], opened["token"]

    admin = requests.Session()
    admin.post(f"{b}/login", data={"username": "kim", "password": PASSWORD, "csrf_token": csrf(admin, f"{b}/login")})
    page = admin.get(f"{b}/admin/tickets/{number}", timeout=30).text
    tim_id = re.search(r'<option value="(\d+)">Tim Agent', page).group(1)  # type: ignore[union-attr]
    admin.post(f"{b}/admin/tickets/{number}/assign", data={"agent_id": tim_id, "csrf_token": csrf(admin, f"{b}/admin/")})

    received: list[dict] = []
    connected = threading.Event()

    def customer_streams_from_a():
        with requests.get(f"{a}/api/v1/conversations/{token}/events", stream=True, timeout=(10, 90)) as stream:
            connected.set()
            event = None
            for line in stream.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "message":
                    received.append(json.loads(line[6:]))
                    return

    reader = threading.Thread(target=customer_streams_from_a, daemon=True)
    reader.start()
    assert connected.wait(30)

    agent = requests.Session()
    agent.post(f"{b}/login", data={"username": "tim", "password": PASSWORD, "csrf_token": csrf(agent, f"{b}/login")})
    token_b = csrf(agent, f"{b}/agent/tickets/{number}")
    agent.post(f"{b}/agent/tickets/{number}/acknowledge", data={"csrf_token": token_b})
    agent.post(f"{b}/agent/tickets/{number}/reply", data={"csrf_token": token_b, "body": "Hi Laura, Tim here (on B)"})

    reader.join(timeout=60)
    assert [m["body"] for m in received] == ["Hi Laura, Tim here (on B)"]
    assert received[0]["author"] == "agent"
