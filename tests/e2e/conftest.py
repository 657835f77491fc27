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

from ..escalation.mail_servers import SmtpServer
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


@pytest.fixture(scope="session")
def live_smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback; the stack's worker sends every mail to it (the portal's
    verification mail is read from here)."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def smtp_env(server: SmtpServer) -> dict[str, str]:
    return {"CARE_SMTP_HOST": "127.0.0.1", "CARE_SMTP_PORT": str(server.port), "CARE_SMTP_SECURITY": "none"}


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory, live_smtp: SmtpServer) -> Iterator[RunningStack]:
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
                                        **smtp_env(live_smtp)}) as (config, supervisor):
            yield RunningStack(config, supervisor, proxy)
    finally:
        proxy.stop()
        artefacts = ROOT / "tests" / "artifacts" / "e2e-logs"
        artefacts.mkdir(parents=True, exist_ok=True)
        for log in (base / "log").glob("*.log"):
            (artefacts / log.name).write_bytes(log.read_bytes())
