"""Suggest a category and a priority from a ticket's text (admins can override).

Plain keyword rules, on purpose: they are predictable, explainable to the admin ("matched
'locked out'") and cover the cases the journey maps name. The chatbot's NLU does the
language understanding; this only sorts the queue.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CATEGORY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("account-access", ("password", "log in", "login", "locked out", "2fa", "two-factor", "reactivat",
                        "inactive", "sign in", "account")),
    ("billing", ("charge", "charged", "invoice", "payment", "card", "pay", "billing", "subscription")),
    ("orders-delivery", ("order", "delivery", "parcel", "shipping", "tracking", "courier")),
    ("returns-refunds", ("return", "refund", "exchange")),
    ("privacy-data", ("gdpr", "privacy", "delete my", "my data", "personal data")),
    ("technical", ("crash", "error", "bug", "app", "not loading", "broken")),
)

CATEGORIES: tuple[str, ...] = ("general", *(name for name, _ in CATEGORY_RULES))

URGENT = ("security", "hacked", "fraud", "stolen", "unauthori")
HIGH = ("locked out", "can't pay", "cannot pay", "can't log", "cannot log", "charged twice", "urgent")


@dataclass(frozen=True)
class Triage:
    category: str
    priority: str
    reasons: tuple[str, ...]


def _contains(text: str, needle: str) -> bool:
    return re.search(r"(?<![a-z])" + re.escape(needle), text) is not None


def triage(text: str) -> Triage:
    lowered = text.lower().replace("’", "'")
    reasons: list[str] = []
    category = "general"
    for name, needles in CATEGORY_RULES:
        hit = next((n for n in needles if _contains(lowered, n)), None)
        if hit:
            category = name
            reasons.append(f"category {name}: matched {hit!r}")
            break
    priority = "normal"
    for level, needles in (("urgent", URGENT), ("high", HIGH)):
        hit = next((n for n in needles if _contains(lowered, n)), None)
        if hit:
            priority = level
            reasons.append(f"priority {level}: matched {hit!r}")
            break
    return Triage(category, priority, tuple(reasons))
