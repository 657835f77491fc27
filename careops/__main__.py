"""``python -m careops run|status`` — see careops/__init__.py."""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from . import settings
from .processes import ROOT, StackConfig, stack
from .supervisor import StartFailed, Supervisor, is_healthy


GENERATED_SECRETS = ("CARE_SECRET_KEY", "CARE_SERVICE_TOKEN", "CARE_RASA_TOKEN", "CARE_ACTIONS_TOKEN",
                     "CARE_CHAT_SECRET")


def _secrets(instance_dir: Path) -> dict[str, str]:
    """Per-installation secrets, generated once into instance/secrets.env."""
    path = instance_dir / "secrets.env"
    instance_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("")
        path.chmod(0o600)
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    found = {k.strip(): v.strip() for k, v in pairs}
    # an installation from before a secret existed gets it added, the others kept
    missing = [name for name in GENERATED_SECRETS if not found.get(name)]
    if missing:
        with path.open("a") as out:
            for name in missing:
                found[name] = secrets.token_urlsafe(32)
                out.write(f"{name}={found[name]}\n")
    return found


def config_from_env() -> StackConfig:
    instance = Path(settings.INSTANCE_DIR.value())
    instance = instance if instance.is_absolute() else ROOT / instance
    found = _secrets(instance)
    return StackConfig(
        escalation_port=settings.PORT.value(),
        rasa_port=settings.RASA_PORT.value(),
        actions_port=settings.ACTIONS_PORT.value(),
        instance_dir=instance,
        database_url=os.environ.get("CARE_DATABASE_URL"),  # the service's setting, passed on when set
        service_token=found["CARE_SERVICE_TOKEN"],
        secret_key=found["CARE_SECRET_KEY"],
        rasa_token=found["CARE_RASA_TOKEN"],
        actions_token=found["CARE_ACTIONS_TOKEN"],
        chat_secret=found["CARE_CHAT_SECRET"],
        cors_origins=tuple(settings.RASA_CORS_ORIGINS.value().split()),
        # development: mail goes to the local catcher unless a real SMTP server is configured
        mail_catcher=not os.environ.get("CARE_SMTP_HOST"),  # the service's setting
        mail_smtp_port=settings.MAIL_CATCHER_SMTP_PORT.value(),
        mail_http_port=settings.MAIL_CATCHER_PORT.value(),
    )


def run() -> int:
    config = config_from_env()
    processes = stack(config)
    busy = [p.name for p in processes if is_healthy(p.health_url, timeout=0.5)]
    if busy:
        print(f"Already running: {', '.join(busy)}. Stop the other `make run` first (or `make status`).")
        return 1
    supervisor = Supervisor(config.var_dir / "log")
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Starting {len(processes)} processes (logs in {supervisor.log_dir}) …")
    try:
        for process in processes:
            supervisor.start(process)
        supervisor.wait_healthy()
    except StartFailed as exc:
        print(f"\n✗ {exc}")
        supervisor.stop()
        return 1
    mail_line = (f"  Mail catcher (every e-mail sent)    {config.mail_url}\n" if config.mail_catcher
                 else "  E-mail goes through the SMTP server in CARE_SMTP_HOST\n")
    print(f"""
All services up.

  Demo website with the chat widget   {config.api_url}/demo
  Admin console (kim)                 {config.api_url}/admin/
  Agent console (tim, terrence)       {config.api_url}/agent/
  Ticket tracking for customers       {config.api_url}/track
{mail_line}  API (JSON)                          {config.api_url}/api/v1/health
  Rasa                                {config.rasa_url}/status

Demo passwords were printed by `init-db` when the users were created.
Press Ctrl-C to stop every process.""", flush=True)
    code = 0
    while not stopping:
        dead = supervisor.exited()
        if dead:
            for name, rc in dead:
                print(f"\n✗ {name} stopped unexpectedly (exit {rc}). Last lines:\n{supervisor.tail(name)}")
            code = 1
            break
        time.sleep(1)
    print("\nStopping every process …", flush=True)
    supervisor.stop()
    print("Stopped.")
    return code


def status() -> int:
    config = config_from_env()
    up = 0
    processes = stack(config)
    for process in processes:
        healthy = is_healthy(process.health_url)
        up += healthy
        print(f"{'up  ' if healthy else 'DOWN'}  {process.name:<11} {process.health_url:<45} {process.description}")
    print(f"{up}/{len(processes)} up")
    return 0 if up == len(processes) else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m careops", description=__doc__)
    parser.add_argument("command", choices=["run", "status"])
    args = parser.parse_args(argv)
    return run() if args.command == "run" else status()


if __name__ == "__main__":
    sys.exit(main())
