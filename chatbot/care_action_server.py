"""The action server, reachable only by Rasa: ``python -m care_action_server --port 5055``.

``rasa run actions`` listens on every interface and runs any action for anyone who can
reach it (forged slots disclose tickets, open tickets, fake dashboard figures). This is the
same rasa-sdk app (``rasa_sdk.endpoint.create_app``) with:

- a shared secret: every request but ``GET /health`` must carry
  ``Authorization: Bearer <CARE_ACTIONS_TOKEN>``, which Rasa sends (``action_endpoint.headers``
  in endpoints.yml); anything else is 401 before an action runs;
- loopback by default (``CARE_ACTIONS_HOST``), and no CORS: browsers have no business here.
"""
from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import Mapping, Optional, Sequence

from actions.escalation_client import close_session
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

# Settings as data: name -> (default, help). README.md documents every one (a test checks).
SETTINGS: dict[str, tuple[str, str]] = {
    "CARE_ACTIONS_TOKEN": (
        "",
        "Shared secret Rasa sends the action server (`Authorization: Bearer …`); `make run` "
        "generates one; the action server refuses to start without it.",
    ),
    "CARE_ACTIONS_HOST": (
        "127.0.0.1",
        "Interface the action server listens on; keep it on loopback (or a private network "
        "only Rasa reaches).",
    ),
}
OPEN_PATHS = frozenset({"/health"})


def setting(name: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name) or SETTINGS[name][0]


def authorized(request: Request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def build_app(token: str, actions: str = "actions") -> Sanic:
    if not token:
        raise SystemExit("CARE_ACTIONS_TOKEN is not set; `make run` generates one (instance/secrets.env).")
    app = create_app(actions, cors_origins=None)

    @app.middleware("request")
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS or authorized(request, token):
            return None
        logger.warning("refused %s %s from %s: no valid token", request.method, request.path, request.ip)
        return response.json({"error": {"code": "unauthorized", "message": "Only Rasa calls the action server.",
                                         "details": None}}, status=401)

    @app.listener("before_server_stop")
    async def close_api_session(_app: Sanic, _loop: object) -> None:
        await close_session()  # the kept-alive connections to the escalation API

    return app


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m care_action_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions", help="package of the custom actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = setting("CARE_ACTIONS_HOST")
    app = build_app(setting("CARE_ACTIONS_TOKEN"), args.actions)
    logger.info("action server on http://%s:%d (token required)", host, args.port)
    app.run(host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
