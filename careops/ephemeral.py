"""A throwaway copy of the whole product on free ports (end-to-end tests, benchmarks).

Uses the committed model, KB index and widget build; its own database, tracker store and
logs live under ``base``.
"""
from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .processes import ROOT, VENV, StackConfig, common_env, free_port, stack
from .supervisor import Supervisor

REQUIRED = {
    ROOT / "chatbot" / "models" / "care.tar.gz": "make model",
    ROOT / "var" / "rasa_sentence_model" / "source.json": "make model",  # read by the model at run time
    ROOT / "var" / "kb_index" / "manifest.json": "make kb",
    ROOT / "widget" / "dist" / "carechat.js": "make widget",
}


def missing_build_outputs() -> list[str]:
    return [f"{path} is missing: run `{how}`" for path, how in REQUIRED.items() if not path.exists()]


@contextmanager
def temporary_stack(base: Path, *, demo_password: str, escalation_port: int | None = None,
                    extra_env: dict[str, str] | None = None, database_url: str | None = None,
                    echo=print) -> Iterator[tuple[StackConfig, Supervisor]]:  # type: ignore[no-untyped-def]
    config = StackConfig(
        escalation_port=escalation_port or free_port(), rasa_port=free_port(), actions_port=free_port(),
        instance_dir=base / "instance", var_dir=base / "var",
        database_url=database_url or f"sqlite:///{base / 'escalation.sqlite3'}",
        service_token="ephemeral-service-token", secret_key="ephemeral-secret",
        rasa_token=secrets.token_urlsafe(16), actions_token=secrets.token_urlsafe(16),
        chat_secret=secrets.token_urlsafe(16),
        mail_catcher=True, mail_smtp_port=free_port(), mail_http_port=free_port(),
        extra_env={"CARE_KB_INDEX_DIR": str(ROOT / "var" / "kb_index"), "CARE_WORKER_INTERVAL": "1",
                   **(extra_env or {})},
    )
    config.var_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **common_env(config), "CARE_INSTANCE_DIR": str(config.instance_dir)}
    subprocess.run([str(VENV / "flask"), "--app", "escalation", "init-db", "--demo-password", demo_password],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    supervisor = Supervisor(base / "log", echo=echo)
    try:
        for process in stack(config):
            supervisor.start(process)
        supervisor.wait_healthy()
        yield config, supervisor
    finally:
        supervisor.stop()
