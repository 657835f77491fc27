"""Layout on a desktop and on a phone, with screenshots of a whole conversation.

The screenshots go to tests/artifacts/ (widget-desktop.png at 1280x800, widget-phone.png at
360x740); docs/screenshots/ holds copies of them for the README.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"
OPTIONS = "{transport: window.__ccTransport, pollInterval: 200, title: 'ACME Customer Care'}"


def ask_and_get_suggestions(widget):
    widget.open()
    widget.say("My account has been inactive for two years. Can I reactivate it?")
    widget.bot_says({"text": "Inactive accounts can be reactivated from the sign-in page."})
    widget.bot_says({"articles": [
        {"article_id": "reactivate-inactive-account", "title": "Reactivate an inactive account",
         "url": "/help/reactivate-inactive-account",
         "snippet": "Accounts unused for 24 months are paused. Sign in and follow the link."},
        {"article_id": "reset-password", "title": "Reset your password",
         "url": "/help/reset-password", "snippet": "Use the Forgot password link on the sign-in page."},
    ]})
    widget.bot_says({"text": "Did that solve it?", "quick_replies": [
        {"title": "Yes, thanks", "payload": "/affirm"},
        {"title": "No, I need a person", "payload": "/request_human"},
    ]})


def hand_over_to_tim(widget, site):
    site.conversations["tok-shot"] = {
        "number": "CR-10001", "status": "open", "owner": "agent", "agent": "Tim",
        "messages": [{"id": 1, "author": "agent", "author_name": "Tim",
                      "body": "Hi Laura, I'm Tim. I can reactivate your account right away.",
                      "created_at": "2024-05-01T10:04:00Z"}],
    }
    widget.get("cc-reply").last.click()
    widget.bot_says({"text": "I opened ticket CR-10001 for you."})
    widget.bot_says({"handoff": {"ticket": "CR-10001", "token": "tok-shot"}})
    expect(widget.messages("agent")).to_have_count(1)


def test_desktop_layout(embed, site):
    widget = embed(OPTIONS)
    ask_and_get_suggestions(widget)
    hand_over_to_tim(widget, site)
    panel = widget.get("cc-panel").bounding_box()
    assert panel["x"] + panel["width"] == pytest.approx(1260, abs=1)
    assert panel["y"] + panel["height"] == pytest.approx(800 - 88, abs=1)
    expect(widget.get("cc-launcher")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget.page.screenshot(path=ARTIFACTS / "widget-desktop.png")


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}])
def test_phone_layout(embed, site):
    widget = embed(OPTIONS)
    launcher = widget.get("cc-launcher").bounding_box()
    assert launcher["x"] + launcher["width"] <= 360
    ask_and_get_suggestions(widget)
    panel = widget.get("cc-panel").bounding_box()
    assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 360, 740)
    expect(widget.get("cc-launcher")).to_be_hidden()  # the full-screen panel has its own close
    for test_id in ("cc-input", "cc-send", "cc-close"):
        box = widget.get(test_id).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, test_id
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget.page.screenshot(path=ARTIFACTS / "widget-phone.png")

    # Nothing overflows sideways, however long the words.
    widget.bot_says({"text": "x" * 300, "quick_replies": [{"title": "y" * 120, "payload": "/y"}]})
    widget.bot_says({"articles": [{"title": "z" * 200, "url": "/help/" + "z" * 200, "snippet": "w" * 300}]})
    assert widget.shadow("root.querySelector('.cc-log').scrollWidth <= root.querySelector('.cc-log').clientWidth")
    assert widget.page.evaluate("() => document.documentElement.scrollWidth") <= 360
    widget.page.keyboard.press("Escape")
    expect(widget.get("cc-launcher")).to_be_visible()
    assert widget.focused() == "cc-launcher"
