"""Request bodies of the API, validated at the edge; the OpenAPI spec is built from them."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import request
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from ..errors import ValidationFailed


class TranscriptEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    sender: Literal["user", "bot", "agent", "system"]
    text: str = Field(default="", max_length=10_000)
    timestamp: float | None = None
    intent: str | None = None
    confidence: float | None = None


class SlackThread(BaseModel):
    """Where a ticket opened from Slack lives: its agent replies go back to this thread."""
    model_config = ConfigDict(extra="forbid")
    team: str = Field(default="", max_length=40)
    channel: str = Field(min_length=1, max_length=40)
    thread_ts: str = Field(min_length=1, max_length=40)
    user: str = Field(min_length=1, max_length=40)


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    email: EmailStr
    subject: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    channel: Literal["web_chat", "email", "slack"] = "web_chat"
    conversation_id: str | None = Field(default=None, max_length=120)
    transcript: list[TranscriptEntry] = Field(default_factory=list, max_length=500)
    suggested_articles: list[str] = Field(default_factory=list, max_length=50)
    nlu: dict[str, Any] = Field(default_factory=dict)
    slack: SlackThread | None = None  # required when channel is "slack"

    @model_validator(mode="after")
    def _slack_has_a_thread(self) -> "TicketCreate":
        if (self.channel == "slack") != (self.slack is not None):
            raise ValueError("a 'slack' ticket needs 'slack' {team, channel, thread_ts, user}, and only it")
        return self


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=5_000)


LOOKUP_MAX_TOKENS = 20


class ConversationLookup(BaseModel):
    """The conversation tokens one browser holds (the widget's "My tickets")."""
    model_config = ConfigDict(extra="forbid")
    tokens: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(max_length=LOOKUP_MAX_TOKENS)


def parse(model: type[BaseModel]) -> Any:
    """The request's JSON body as ``model``, or a 400/422 in the one error shape."""
    if not request.is_json:
        raise ValidationFailed("Send a JSON body with 'Content-Type: application/json'.",
                               code="json_required", status=415)
    payload = request.get_json(silent=True)
    if payload is None:
        raise ValidationFailed("The body is not valid JSON. Check quotes, commas and brackets.",
                               code="invalid_json", status=400)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()}
        raise ValidationFailed("Some fields are missing or invalid: " + ", ".join(sorted(fields)) + ".",
                               details={"fields": fields}) from None
