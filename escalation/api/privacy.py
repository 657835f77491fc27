"""GDPR over the API: export or erase one customer (service token, or an admin's session)."""
from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_login import current_user

from .. import privacy
from ..auth import has_service_token
from ..db import db
from ..errors import Forbidden, Unauthorized
from ..privacy import CustomerRef
from . import bp
from .schemas import parse


def privacy_actor() -> str:
    """Who asks: the service token, or a signed-in admin (agents get 403, nobody else 401)."""
    if has_service_token():
        return "service-token"
    if current_user.is_authenticated:
        if current_user.role == "admin":
            return current_user.username
        raise Forbidden("Only admins can export or erase a customer's data.")
    raise Unauthorized("Send the service token as 'Authorization: Bearer <token>' (setting CARE_SERVICE_TOKEN), "
                       "or sign in to the console as an admin.", code="service_token_required")


@bp.post("/privacy/export")
def privacy_export() -> Any:
    actor = privacy_actor()
    body: CustomerRef = parse(CustomerRef)
    data = privacy.export_customer(db.session, privacy.find_customer(db.session, body.email), actor)
    db.session.commit()
    return jsonify(data)


@bp.post("/privacy/erase")
def privacy_erase() -> Any:
    actor = privacy_actor()
    body: CustomerRef = parse(CustomerRef)
    result = privacy.erase_customer(db.session, privacy.find_customer(db.session, body.email), actor)
    db.session.commit()
    return jsonify(result)
