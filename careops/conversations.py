"""Rasa's REST channel for server-side clients of this repository (tests, benchmarks).

The channel (chatbot/care_channels.py) takes a message for ``sender`` only with
``token = HMAC(CARE_CHAT_SECRET, sender)``; whoever holds the secret makes it with the
chatbot's own function (chatbot/care_sessions.py, standard library only), loaded from its
path: the chatbot folder is Rasa's working directory, not a package of this environment.
"""
from __future__ import annotations

import importlib.util
from functools import cache
from types import ModuleType

from .processes import ROOT


@cache
def care_sessions() -> ModuleType:
    spec = importlib.util.spec_from_file_location("care_sessions", ROOT / "chatbot" / "care_sessions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sender_token(secret: str, sender: str) -> str:
    """The REST channel's token for ``sender`` under ``secret`` (CARE_CHAT_SECRET)."""
    return str(care_sessions().sign(secret.encode(), sender))
