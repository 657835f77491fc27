"""The Rasa project's files agree with each other and with the docs.

`rasa data validate` warns about every response that only custom actions send ("not used
in any story or rule"); these tests make that list exact instead of noise: each such
response is sent by an action, and every response an action sends exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import care_action_server
import care_sessions
from actions import escalation_client
from conftest import CHATBOT_DIR

ACTIONS_DIR = CHATBOT_DIR / "actions"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def domain() -> dict:
    return load(CHATBOT_DIR / "domain.yml")


def actions_in_rules_and_stories() -> set[str]:
    used: set[str] = set()
    for folder in ("rules", "stories"):
        for path in (CHATBOT_DIR / "data" / folder).glob("*.yml"):
            for block in load(path).get(folder, []):
                used.update(step["action"] for step in block["steps"] if "action" in step)
    return used


def responses_sent_by_actions() -> set[str]:
    pattern = re.compile(r'response="(utter_\w+)"')
    return {
        name
        for path in ACTIONS_DIR.glob("*.py")
        for name in pattern.findall(path.read_text(encoding="utf-8"))
    }


def test_every_response_an_action_sends_is_in_the_domain():
    assert responses_sent_by_actions() <= set(domain()["responses"])


def test_every_response_is_used_by_a_rule_a_story_an_action_or_the_form():
    form_questions = {f"utter_ask_{slot}"
                      for form in domain()["forms"].values()
                      for slot in form["required_slots"]}
    used = (actions_in_rules_and_stories() | responses_sent_by_actions() | form_questions
            | {"utter_default"})  # Rasa's action_default_fallback sends it
    assert set(domain()["responses"]) - used == set()


def test_every_custom_action_in_the_domain_is_implemented():
    names = set()
    for path in ACTIONS_DIR.glob("*.py"):
        names.update(re.findall(r'return "((?:action|validate)_\w+)"', path.read_text()))
    assert set(domain()["actions"]) == names


def test_there_are_at_least_150_question_examples():
    nlu = load(CHATBOT_DIR / "data" / "nlu" / "questions.yml")["nlu"]
    examples = [line for block in nlu if block.get("intent") == "ask_question"
                for line in block["examples"].splitlines() if line.strip()]
    assert len(examples) >= 150


RASA_SIDE_SETTINGS = (set(escalation_client.SETTINGS) | set(care_sessions.SETTINGS)
                      | set(care_action_server.SETTINGS) | {"CARE_ACTIONS_URL", "CARE_RASA_TRACKER_URL"})


def test_every_setting_is_documented_in_the_readme():
    readme = (CHATBOT_DIR / "README.md").read_text(encoding="utf-8")
    assert {name for name in RASA_SIDE_SETTINGS if f"`{name}`" not in readme} == set()


def test_every_rasa_side_setting_is_in_the_project_readme_too():
    readme = (CHATBOT_DIR.parent / "README.md").read_text(encoding="utf-8")
    names = RASA_SIDE_SETTINGS | {"CARE_RASA_TOKEN", "CARE_RASA_CORS_ORIGINS"}  # careops passes these
    assert {name for name in names if f"`{name}`" not in readme} == set()


def test_the_endpoints_file_reads_its_urls_from_the_environment():
    endpoints = load(CHATBOT_DIR / "endpoints.yml")
    assert endpoints["action_endpoint"] == {
        "url": "${CARE_ACTIONS_URL}",
        "headers": {"Authorization": "Bearer ${CARE_ACTIONS_TOKEN}"},  # care_action_server checks it
    }
    assert endpoints["tracker_store"] == {"type": "care_tracker_store.CareSQLTrackerStore",
                                          "url": "${CARE_RASA_TRACKER_URL}"}


def test_socketio_channel_matches_the_widget_contract():
    socketio = load(CHATBOT_DIR / "credentials.yml")["care_channels.CareSocketIOInput"]
    # the widget sends its metadata (language, signed portal identity) as `customData`
    assert socketio == {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
                        "session_persistence": True, "metadata_key": "customData"}


def test_only_the_channels_that_check_conversation_tokens_are_open():
    """Rasa's own socketio / rest channels let a client name any conversation. Ours check a
    conversation token; the Slack channel checks Slack's request signature (and refuses
    everything while no signing secret is set)."""
    assert set(load(CHATBOT_DIR / "credentials.yml")) == {
        "care_channels.CareSocketIOInput", "care_channels.CareRestInput", "slack_channel.CareSlackInput"}
