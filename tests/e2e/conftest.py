"""The real product on free ports: escalation (gunicorn), worker, Rasa and the action server.

Started once per test session from the same process definitions as ``make run``
(careops.processes), with a temporary database and tracker store. Needs the trained model
(``make model``), the KB index (``make kb``) and the widget build (``make widget``):
``make test`` builds them first. A missing piece fails the tests, it never skips them.
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from careops.processes import ROOT, VENV, StackConfig, common_env, free_port, stack
from careops.supervisor import Supervisor

from ..browser import launch_browser

DEMO_PASSWORD = "e2e-demo-password"


@dataclass
class RunningStack:
    config: StackConfig
    supervisor: Supervisor

    @property
    def api_url(self) -> str:
        return self.config.api_url


def _require(path: Path, how: str) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `{how}` (make test does it).")


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    _require(ROOT / "chatbot" / "models" / "care.tar.gz", "make model")
    _require(ROOT / "var" / "kb_index" / "manifest.json", "make kb")
    _require(ROOT / "widget" / "dist" / "carechat.js", "make widget")
    base = tmp_path_factory.mktemp("stack")
    config = StackConfig(
        escalation_port=free_port(), rasa_port=free_port(), actions_port=free_port(),
        instance_dir=base / "instance", var_dir=base / "var",
        database_url=f"sqlite:///{base / 'escalation.sqlite3'}",
        service_token="e2e-service-token", secret_key="e2e-secret",
        extra_env={"CARE_KB_INDEX_DIR": str(ROOT / "var" / "kb_index"), "CARE_WORKER_INTERVAL": "1"},
    )
    config.var_dir.mkdir(parents=True)
    env = {**common_env(config), "CARE_INSTANCE_DIR": str(config.instance_dir)}
    import os
    subprocess.run([str(VENV / "flask"), "--app", "escalation", "init-db", "--demo-password", DEMO_PASSWORD],
                   cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)
    supervisor = Supervisor(base / "log")
    try:
        for process in stack(config):
            supervisor.start(process)
        supervisor.wait_healthy()
        yield RunningStack(config, supervisor)
    finally:
        supervisor.stop()
        for name in ("escalation", "worker", "rasa", "actions"):
            log = supervisor.log_path(name)
            if log.exists():
                artefacts = ROOT / "tests" / "artifacts" / "e2e-logs"
                artefacts.mkdir(parents=True, exist_ok=True)
                (artefacts / f"{name}.log").write_bytes(log.read_bytes())


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser
