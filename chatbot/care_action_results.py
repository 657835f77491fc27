"""Rasa 3.6 checks each action server response with ``jsonschema.validate``, which first
validates Rasa's own, constant response schema against the JSON Schema meta-schema, on
every call. Under bench/bench_chat_open.py load that re-check was 20 % of Rasa's busy CPU
(py-spy; docs/benchmarks.md "Where a turn's time goes").

:func:`install` (called once when Rasa builds the tracker store, care_tracker_store.py) has
``RemoteAction`` check responses with one validator made from that schema, whose schema was
checked once: the same rules, the same ``ValidationError`` (best match, same message) as
``jsonschema.validate`` gives, without redoing the meta-schema work per turn.
"""
from __future__ import annotations

from functools import cache
from typing import Any, Dict

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@cache
def response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    kind = validators.validator_for(schema)
    kind.check_schema(schema)
    return kind(schema)


def validate_action_result(_action: RemoteAction, result: Dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result``, with the validator made once."""
    error = exceptions.best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
