"""The bot asks who a widget's signed identity stands for (:mod:`escalation.widget_identity`)."""
from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field

from ..auth import service_token_required
from .. import widget_identity
from ..db import db
from . import bp
from .schemas import parse


class IdentityCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=1000)


@bp.post("/identity/verify")
@service_token_required
def verify_identity() -> Any:
    body: IdentityCheck = parse(IdentityCheck)
    who = widget_identity.check(db.session, current_app.config, body.token)
    return jsonify({"customer_id": who.customer_id, "email": who.email, "name": who.name, "verified": True})
