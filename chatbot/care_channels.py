"""The chat channels `rasa run` listens on (credentials.yml), with the doors closed.

Rasa 3.6's own socket.io and REST channels let the client name the conversation: whoever
knows (or guesses) a sender id continues that conversation and reads its replies, handoff
token included. These two keep Rasa's wire format and URLs (``/socket.io/``,
``/webhooks/rest/webhook``) and add:

- a conversation is a random id plus its token (``care_sessions``). socket.io:
  ``session_request {session_id, token}`` joins that conversation only when the token matches;
  otherwise (a new visitor, or someone else's id) the channel starts a new conversation and
  answers ``session_confirm {session_id, token}``. A ``user_uttered`` always goes to the
  conversation this connection was confirmed for; one naming another id is dropped.
  REST: ``{"sender", "token", "message"}``; a wrong or missing token is 403.
- a message longer than ``CARE_CHAT_MAX_CHARS`` gets a friendly reply (socket.io) or 413
  (REST) and never reaches NLU, so one huge message cannot stall the bot for everyone.
- the client's IP goes into the message metadata (``client_ip``, overwriting whatever the
  client sent there); the actions pass it on to the escalation API for its per-IP limits.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

import care_sessions

logger = logging.getLogger(__name__)

CLIENT_IP_KEY = "client_ip"
TOO_LONG = ("That message is too long for me ({length} characters; I read up to {limit}). "
            "Could you put your question in a few sentences?")


def client_ip(request: Optional[Request]) -> str:
    """The peer's address; a proxy's forwarded address only where Sanic is told to trust it
    (``FORWARDED_SECRET`` / ``PROXIES_COUNT``, see README.md "The bot's ports")."""
    if request is None:
        return ""
    return str(request.remote_addr or request.ip or "")


def error_body(code: str, message: str, details: Any = None) -> Dict[str, Any]:
    """The project's one error shape (escalation/errors.py)."""
    return {"error": {"code": code, "message": message, "details": details}}


def client_metadata(raw: Any) -> Dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return dict(raw) if isinstance(raw, dict) else {}


class CareSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (session persistence always on) with signed conversations."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"  # the name the tracker records: reminders find this channel by it

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        secret = care_sessions.secret_from_env()
        max_chars = care_sessions.max_chars_from_env()
        # cors_allowed_origins=[]: Rasa's --cors (sanic-cors) answers for the whole app.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        peers: Dict[str, str] = {}  # socket id -> client IP
        bound: Dict[str, str] = {}  # socket id -> the conversation it was confirmed for

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            peers[sid] = client_ip(environ.get("sanic.request"))
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            peers.pop(sid, None)
            bound.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            wanted, token = data.get("session_id"), data.get("token")
            if care_sessions.verify(secret, wanted, token):
                conversation = str(wanted)
            else:
                if wanted:
                    logger.info("socket %s named conversation %r without its token: new one", sid, wanted)
                conversation = care_sessions.new_conversation_id()
                token = care_sessions.sign(secret, conversation)
            previous = bound.get(sid)
            if previous and previous != conversation:
                sio.leave_room(sid, previous, namespace=self.namespace)
            bound[sid] = conversation
            # python-socketio 5.8: enter_room is a plain call (see ARCHITECTURE.md)
            sio.enter_room(sid, conversation, namespace=self.namespace)
            await sio.emit("session_confirm", {"session_id": conversation, "token": token},
                           room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            conversation = bound.get(sid)
            named = data.get("session_id")
            if conversation is None or (named and named != conversation):
                logger.warning("socket %s: message for %r refused (confirmed for %r)", sid, named, conversation)
                return
            text = data.get("message")
            if not isinstance(text, str):
                return
            if len(text) > max_chars:
                await sio.emit(self.bot_message_evt,
                               {"text": TOO_LONG.format(length=len(text), limit=max_chars)},
                               room=sid, namespace=self.namespace)
                return
            metadata = client_metadata(data.get(self.metadata_key))
            metadata[CLIENT_IP_KEY] = peers.get(sid, "")
            await on_new_message(UserMessage(
                text, SocketIOOutput(sio, self.bot_message_evt), conversation,
                input_channel=self.name(), metadata=metadata,
            ))

        return webhook


class CareRestInput(RestInput):
    """Rasa's REST channel for tests and server-side clients: the sender's token is required."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        secret = care_sessions.secret_from_env()
        max_chars = care_sessions.max_chars_from_env()
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def check_sender(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST" or not request.path.rstrip("/").endswith("/webhook"):
                return None
            body = request.json
            if not isinstance(body, dict) or not isinstance(body.get("sender"), str):
                return response.json(error_body("invalid_request", "Send a JSON object with "
                                                "`sender`, `token` and `message`."), status=400)
            if not care_sessions.verify(secret, body["sender"], body.get("token")):
                return response.json(error_body("forbidden", "The token does not match this sender."),
                                     status=403)
            message = body.get("message")
            if isinstance(message, str) and len(message) > max_chars:
                return response.json(error_body(
                    "message_too_long", TOO_LONG.format(length=len(message), limit=max_chars),
                    {"max_chars": max_chars}), status=413)
            return None

        return webhook

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        metadata = client_metadata(super().get_metadata(request))
        metadata[CLIENT_IP_KEY] = client_ip(request)
        return metadata
