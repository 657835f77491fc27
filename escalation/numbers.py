"""Whole numbers from a request: the query string, headers and forms all go through :func:`int_from`.

A number that does not parse (``²`` passes ``str.isdigit`` but not ``int``), or that does not
fit the range the code and the database can hold (``10^25`` overflows SQLite's and
PostgreSQL's 64-bit integers, ``days=10^8`` a ``timedelta``), is the client's mistake: 400
with the one error shape, never a 500 deeper down.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, overload

from .errors import ValidationFailed

INT64_MAX = 2**63 - 1
"""The largest id or count the databases store; the default upper bound."""

_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")  # ASCII digits only: "²" and "١" are digits to str.isdigit


@overload
def int_from(source: Mapping[str, Any], name: str, *, default: int, minimum: int = ..., maximum: int = ...) -> int: ...


@overload
def int_from(source: Mapping[str, Any], name: str, *, default: None = None, minimum: int = ...,
             maximum: int = ...) -> int | None: ...


def int_from(source: Mapping[str, Any], name: str, *, default: int | None = None, minimum: int = 0,
             maximum: int = INT64_MAX) -> int | None:
    """``source[name]`` (``request.args``, ``request.form`` or ``request.headers``) as an int in
    ``[minimum, maximum]``; ``default`` when absent or empty. Raises a 400 otherwise."""
    raw = source.get(name)
    if raw is None or not str(raw).strip():
        return default
    text = str(raw).strip()
    value = int(text) if _WHOLE.fullmatch(text) else None
    if value is None or not minimum <= value <= maximum:
        raise ValidationFailed(f"'{name}' must be a whole number from {minimum} to {maximum}.",
                               code="invalid_number", status=400,
                               details={"field": name, "minimum": minimum, "maximum": maximum})
    return value
