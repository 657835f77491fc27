"""Who may continue a conversation: an unguessable id and the token that proves it is yours.

The Rasa channels (``care_channels.py``) issue a new conversation as a random id plus
``token = HMAC(CARE_CHAT_SECRET, id)``; a message that names a conversation must carry its
token. The token is a pure function of the id and the secret, so several Rasa instances that
share the secret accept each other's conversations, and nothing is stored.

Pure standard library: the tests (main virtualenv) sign REST senders with it too.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from typing import Mapping, Optional

# Settings as data: name -> (default, help). README.md documents every one (a test checks).
SETTINGS: dict[str, tuple[str, str]] = {
    "CARE_CHAT_SECRET": (
        "",
        "Signs the conversation tokens the chat channels issue (HMAC-SHA256); shared by every "
        "Rasa instance. `make run` generates one; Rasa refuses to start without it.",
    ),
    "CARE_CHAT_MAX_CHARS": (
        "2000",
        "Longest chat message Rasa accepts; a longer one gets a friendly reply and no bot turn.",
    ),
}
_CONTEXT = b"care-chat-conversation:"


class MissingSecret(RuntimeError):
    """CARE_CHAT_SECRET is not set: every conversation would be open to anyone."""


def setting(name: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name) or SETTINGS[name][0]


def secret_from_env(environ: Mapping[str, str] = os.environ) -> bytes:
    value = setting("CARE_CHAT_SECRET", environ)
    if not value:
        raise MissingSecret("CARE_CHAT_SECRET is not set; `make run` generates one "
                            "(instance/secrets.env).")
    return value.encode()


def max_chars_from_env(environ: Mapping[str, str] = os.environ) -> int:
    return int(setting("CARE_CHAT_MAX_CHARS", environ))


def new_conversation_id() -> str:
    """128 random bits as 32 hex characters (the shape Rasa's own session ids have)."""
    return secrets.token_hex(16)


def sign(secret: bytes, conversation_id: str) -> str:
    digest = hmac.new(secret, _CONTEXT + conversation_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(secret: bytes, conversation_id: Optional[str], token: Optional[str]) -> bool:
    """Whether ``token`` is the token of ``conversation_id`` (constant time)."""
    if not isinstance(conversation_id, str) or not isinstance(token, str) or not conversation_id:
        return False
    return hmac.compare_digest(sign(secret, conversation_id), token)
