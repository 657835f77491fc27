"""What each process is: its command line, environment and health check."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
RASA_VENV = ROOT / ".venv-rasa" / "bin"


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]
    health_url: str
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0
    description: str = ""


@dataclass(frozen=True)
class StackConfig:
    """Where the processes listen and keep their data."""

    escalation_port: int = 5000
    rasa_port: int = 5005
    actions_port: int = 5055
    host: str = "127.0.0.1"
    instance_dir: Path = ROOT / "instance"
    var_dir: Path = ROOT / "var"
    database_url: str | None = None
    service_token: str = "dev-service-token"
    secret_key: str = "dev-secret-change-me"
    # the bot's doors (README.md, "The bot's ports"): Rasa's HTTP API token, the secret Rasa
    # sends the action server, the key that signs chat conversations; `make run` generates them
    rasa_token: str = "dev-rasa-token"
    actions_token: str = "dev-actions-token"
    chat_secret: str = "dev-chat-secret"
    # origins whose pages may call Rasa from a browser; empty: the origin of CARE_PUBLIC_URL
    cors_origins: tuple[str, ...] = ()
    model_dir: Path = ROOT / "chatbot" / "models"
    # the development mail catcher (escalation/mail/catcher.py): `make run` and the throwaway
    # stacks switch it on (not when real SMTP is configured); it sets the CARE_SMTP_* settings
    mail_catcher: bool = False
    mail_smtp_port: int = 1025
    mail_http_port: int = 8025
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.escalation_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}/webhook"

    @property
    def rasa_cors(self) -> list[str]:
        if self.cors_origins:
            return list(self.cors_origins)
        parts = urlsplit(self.api_url)  # CARE_PUBLIC_URL is the API's URL here (common_env)
        return [f"{parts.scheme}://{parts.netloc}"]

    @property
    def mail_url(self) -> str:
        return f"http://{self.host}:{self.mail_http_port}/"

    @property
    def tracker_db(self) -> Path:
        return self.var_dir / "rasa-tracker.sqlite3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def common_env(config: StackConfig) -> dict[str, str]:
    env = {
        "CARE_API_URL": config.api_url,
        "CARE_PUBLIC_URL": config.api_url,
        "CARE_RASA_URL": config.rasa_url,
        "CARE_ACTIONS_URL": config.actions_url,
        "CARE_SERVICE_TOKEN": config.service_token,
        "CARE_SECRET_KEY": config.secret_key,
        "CARE_ACTIONS_TOKEN": config.actions_token,
        "CARE_CHAT_SECRET": config.chat_secret,
        "CARE_KB_INDEX_DIR": str(config.var_dir / "kb_index"),
        "CARE_RASA_TRACKER_URL": f"sqlite:///{config.tracker_db}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_WAIT_POLICY": "PASSIVE",
        "PYTHONUNBUFFERED": "1",
    }
    if config.database_url:
        env["CARE_DATABASE_URL"] = config.database_url
    if config.mail_catcher:
        env.update(CARE_SMTP_HOST=config.host, CARE_SMTP_PORT=str(config.mail_smtp_port),
                   CARE_SMTP_SECURITY="none", CARE_SMTP_USERNAME="")
    env.update(config.extra_env)
    return env


# Compute threads per process, set here and not at import time. Every process would otherwise
# size its pools to all cores (torch intra-op, OpenMP for FAISS, TensorFlow's intra/inter-op
# pools, BLAS): on 2 cores four processes then run ~12 busy threads for one chat turn, which
# wait for each other (bench/bench_chat_open.py, docs/benchmarks.md "Where a turn's time goes").
# A turn is a single small request: one thread each is as fast alone and much faster together;
# the processes and gunicorn's threads are the parallelism. A caller's own value wins.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
TENSORFLOW_THREADS = {"TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}


def compute_threads(*pools: dict[str, str]) -> dict[str, str]:
    """``pools`` merged, minus any variable the caller's environment already sets."""
    merged = {k: v for pool in pools for k, v in pool.items()}
    return {k: v for k, v in merged.items() if k not in os.environ}


def stack(config: StackConfig) -> list[Process]:
    env = {**common_env(config), **compute_threads(ONE_THREAD)}
    flask_env = {**env, "CARE_INSTANCE_DIR": str(config.instance_dir)}
    rasa_env = {**env, **compute_threads(TENSORFLOW_THREADS)}
    return [
        Process(
            "escalation",
            # every open live chat (SSE stream) holds a thread while the customer's page is open:
            # 16 threads were all taken by 16 streams (bench/bench_sse_fanout.py); 500 threads
            # cost ~25 MiB, and hold ~470 streams with room for the API and consoles
            [str(VENV / "gunicorn"), "--bind", f"{config.host}:{config.escalation_port}",
             "--worker-class", "gthread", "--workers", "1", "--threads", "500", "--timeout", "120",
             "--access-logfile", "-", "escalation.wsgi:app"],
            f"{config.api_url}/api/v1/health/ready", env=flask_env, ready_timeout=300.0,
            description="Flask: API, consoles, KB search, widget and demo page",
        ),
        Process(
            "worker", [str(VENV / "flask"), "--app", "escalation", "worker"],
            f"{config.api_url}/api/v1/health/worker", env=flask_env, ready_timeout=60.0,
            description="SLA clocks, auto-close, outbox (heartbeat in /api/v1/health)",
        ),
        Process(
            # rasa-sdk's app behind a shared secret, on loopback (chatbot/care_action_server.py)
            "actions", [str(RASA_VENV / "python"), "-m", "care_action_server", "--port", str(config.actions_port),
                        "--actions", "actions"],
            f"http://{config.host}:{config.actions_port}/health", cwd=ROOT / "chatbot", env=env,
            ready_timeout=120.0, description="Rasa action server: custom actions (only Rasa may call it)",
        ),
        Process(
            # the HTTP API (trackers, events, models) needs ?token=CARE_RASA_TOKEN; browsers from
            # the site's origins only (CORS); the channels check conversation tokens themselves
            # "--auth-token=…" in one argument: a generated token may start with "-", which
            # argparse would otherwise read as an option ("expected one argument")
            "rasa", [str(RASA_VENV / "rasa"), "run", "--enable-api", f"--auth-token={config.rasa_token}",
                     "--cors", *config.rasa_cors,
                     "--interface", config.host, "--port", str(config.rasa_port),
                     "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
                     "--model", str(config.model_dir)],
            # "/" answers once the model is loaded (Rasa loads it before it listens); /status wants the token
            f"{config.rasa_url}/", cwd=ROOT / "chatbot", env=rasa_env, ready_timeout=240.0,
            description="Rasa: the assistant (socket.io + REST channels; HTTP API behind a token)",
        ),
    ] + ([Process(
        "mail", [str(VENV / "python"), "-m", "escalation.mail.catcher", "--host", config.host,
                 "--smtp-port", str(config.mail_smtp_port), "--http-port", str(config.mail_http_port),
                 "--store", str(config.var_dir / "mailcatcher.sqlite3")],
        f"{config.mail_url}healthz", env=flask_env, ready_timeout=60.0,
        description="Mail catcher (development): SMTP on loopback, every mail on a page",
    )] if config.mail_catcher else [])


def base_environment() -> dict[str, str]:
    """The caller's environment (so every ``CARE_*`` setting reaches the processes) minus venv markers."""
    return {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONHOME"}}
