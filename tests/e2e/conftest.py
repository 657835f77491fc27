"""The real product on free ports: escalation (gunicorn), worker, Rasa and the action server.

Started once per test session from the same process definitions as ``make run``
(careops), with a temporary database and tracker store. Needs the trained model
(``make model``), the KB index (``make kb``) and the widget build (``make widget``):
``make test`` builds them first. A missing piece fails the tests, it never skips them.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from careops.ephemeral import missing_build_outputs, temporary_stack
from careops.processes import ROOT, StackConfig, free_port
from careops.supervisor import Supervisor

from ..slack.fake_slack import FakeSlack
from .fault_proxy import FaultProxy

DEMO_PASSWORD = "e2e-demo-password"


@dataclass
class RunningStack:
    config: StackConfig
    supervisor: Supervisor
    proxy: FaultProxy  # between the action server and the escalation API

    @property
    def api_url(self) -> str:
        return self.config.api_url

    @property
    def mail_url(self) -> str:
        """The mail catcher's page (every mail the stack sends lands there)."""
        return self.config.mail_url


SLACK_USERS = {
    "U0AUSTIN": {"name": "Austin Coy", "email": "austin.coy@northwind.example"},
    "U0TERRENCE": {"name": "Terrence", "email": "terrence@support.example.com"},
    "U0TIM": {"name": "Tim", "email": "tim@support.example.com"},
}


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    """Slack's Web API on loopback; the stack's Rasa channel, service and worker talk to it."""
    with FakeSlack(users=dict(SLACK_USERS)) as slack:
        yield slack


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlack) -> Iterator[RunningStack]:
    missing = missing_build_outputs()
    if missing:
        pytest.fail("; ".join(missing) + " (make test does it).")
    base = tmp_path_factory.mktemp("stack")
    escalation_port = free_port()
    proxy = FaultProxy(f"http://127.0.0.1:{escalation_port}").start()
    supervisor = None
    try:
        with temporary_stack(base, demo_password=DEMO_PASSWORD, escalation_port=escalation_port,
                             extra_env={"CARE_API_URL": proxy.url, "CARE_API_TIMEOUT": "3",
                                        # chat replies not seen live are mailed after 5 s, not a minute
                                        "CARE_CHAT_REPLY_MAIL_DELAY": "5",
                                        # every test browser is 127.0.0.1: one client IP for the whole
                                        # session, which opens more tickets than one customer would
                                        "CARE_RATE_LIMIT_TICKETS_PER_IP": "1000",
                                        "CARE_RATE_LIMIT_KB_SEARCHES": "100000",
                                        **fake_slack.env()}) as (config, supervisor):
            yield RunningStack(config, supervisor, proxy)
    finally:
        proxy.stop()
        artefacts = ROOT / "tests" / "artifacts" / "e2e-logs"
        artefacts.mkdir(parents=True, exist_ok=True)
        for log in (base / "log").glob("*.log"):
            (artefacts / log.name).write_bytes(log.read_bytes())
