"""Deterministic stand-in for `actions.escalation_client.EscalationClient` in unit tests."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from actions.escalation_client import (
    ApiError,
    Caller,
    Identity,
    KbHit,
    KbSearchResult,
    ServiceUnavailable,
    TicketInfo,
    TicketReceipt,
)


class FakeEscalationClient:
    """Same methods as the real client; answers from in-memory data and records calls.

    `down = True` makes every call raise ServiceUnavailable, as when the service is off.
    A ticket keeps the `conversation_id` of the payload that opened it, as the service does.
    """

    public_url = "http://care.test"

    def __init__(self) -> None:
        self.articles: list[KbHit] = []
        self.answerable = True
        self.down = False
        self.reject_with: Optional[ApiError] = None
        self.search_reject_with: Optional[ApiError] = None  # what the KB search refuses with
        self.tickets: dict[str, TicketInfo] = {}
        self.calls: list[tuple[str, Any]] = []
        self.callers: list[Optional[Caller]] = []  # who each search / ticket was for
        self._receipts: dict[str, tuple[Mapping[str, Any], TicketReceipt]] = {}
        self.identities: dict[str, Identity] = {}  # signed identity token -> who it stands for

    async def search_kb(
        self, query: str, k: int = 4, caller: Optional[Caller] = None, context: Optional[str] = None,
        audience: str = "public",
    ) -> KbSearchResult:
        call = {"query": query, "k": k, "audience": audience}
        if context is not None:
            call["context"] = context
        self.calls.append(("search_kb", call))
        self.callers.append(caller)
        self._fail_if_down()
        if self.search_reject_with is not None:
            raise self.search_reject_with
        hits = self.articles[:k] if self.answerable else []
        return KbSearchResult(answerable=self.answerable, hits=hits)

    async def open_ticket(
        self, payload: Mapping[str, Any], idempotency_key: str, caller: Optional[Caller] = None
    ) -> TicketReceipt:
        self.calls.append(("open_ticket", {"payload": payload, "key": idempotency_key}))
        self.callers.append(caller)
        self._fail_if_down()
        if self.reject_with is not None:
            raise self.reject_with
        if idempotency_key in self._receipts:
            first_payload, receipt = self._receipts[idempotency_key]
            if first_payload != payload:
                raise ApiError(409, "idempotency_key_reused", "different body for this key")
            return TicketReceipt(**{**receipt.__dict__, "created": False})
        number = f"CR-{10001 + len(self.tickets)}"
        receipt = TicketReceipt(
            number=number,
            token=f"token-{number}",
            status="new",
            owner="queued",
            tracking_url=self.tracking_url(number),
            created=True,
        )
        self.tickets[number] = TicketInfo(number, "new", "queued", None, None, None,
                                          conversation_id=payload.get("conversation_id"))
        self._receipts[idempotency_key] = (payload, receipt)
        return receipt

    async def record_outcome(
        self, conversation_id: str, outcome: str, question: str = "", article_id: Optional[str] = None
    ) -> None:
        self.calls.append(("record_outcome", (conversation_id, outcome, question, article_id)))
        self._fail_if_down()

    async def get_ticket(self, number: str) -> Optional[TicketInfo]:
        self.calls.append(("get_ticket", number))
        self._fail_if_down()
        return self.tickets.get(number)

    async def verify_identity(self, token: str) -> Optional[Identity]:
        self.calls.append(("verify_identity", token))
        self._fail_if_down()
        return self.identities.get(token)

    def tracking_url(self, number: str) -> str:
        return f"{self.public_url}/track?number={number}"

    def _fail_if_down(self) -> None:
        if self.down:
            raise ServiceUnavailable("fake escalation service is down")
