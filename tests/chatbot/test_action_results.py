"""care_action_results: action server responses are checked as Rasa 3.6 checks them, with the
validator made once."""

from __future__ import annotations

import warnings

import pytest
from jsonschema import ValidationError

with warnings.catch_warnings():
    # rasa.core.actions.action imports TensorFlow/Keras, whose modules warn as they load
    warnings.simplefilter("ignore")
    import care_action_results
    from rasa.core.actions.action import RemoteAction

RASA_OWN = RemoteAction._validate_action_result

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "email", "value": "laura@example.com"}],
     "responses": [{"text": "Your ticket is CR-1042."}]},
    {},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"name": "email"}]},                      # an event without its type
    {"responses": ["a bare string, not a message object"], "events": []},
]


@pytest.fixture
def action() -> RemoteAction:
    return RemoteAction("action_answer_from_kb", None)


@pytest.mark.parametrize("response", VALID)
def test_a_valid_response_passes_both(action, response):
    assert RASA_OWN(action, response) is True
    assert care_action_results.validate_action_result(action, response) is True


@pytest.mark.parametrize("response", INVALID)
def test_an_invalid_response_fails_both_with_the_same_message(action, response):
    with pytest.raises(ValidationError) as theirs:
        RASA_OWN(action, response)
    with pytest.raises(ValidationError) as ours:
        care_action_results.validate_action_result(action, response)
    assert ours.value.message == theirs.value.message and "custom-actions" in ours.value.message


def test_install_replaces_rasa_s_check(action, monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RASA_OWN)
    care_action_results.install()
    assert RemoteAction._validate_action_result is care_action_results.validate_action_result
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": "not a list"})
