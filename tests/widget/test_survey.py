"""The satisfaction survey (CSAT) after a handed-over ticket is resolved: "How did we do?",
a 1-5 rating and an optional comment, posted to `…/conversations/<token>/survey`."""

import json
import time

from playwright.sync_api import expect

FAST = "{transport: window.__ccTransport, pollInterval: 200}"
HANDOFF = {"handoff": {"ticket": "CR-10001", "token": "tok-123"}}
RESOLVED = "Ticket CR-10001 was resolved. You are chatting with our assistant again."
THANKS = "Thank you for your feedback!"
SURVEY_URL = "**/api/v1/conversations/tok-123/survey"


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def hand_off(embed, site, options=FAST):
    site.conversations["tok-123"] = {
        "number": "CR-10001", "status": "acknowledged", "owner": "agent", "agent": "Tim", "messages": [],
    }
    widget = embed(options)
    widget.open()
    widget.say("talk to a human")
    widget.bot_says({"text": "I opened ticket CR-10001 for you."})
    widget.bot_says(HANDOFF)
    expect(widget.get("cc-ticket")).to_have_text("Ticket CR-10001 — Tim is helping you")
    return widget


def resolve(site, status="resolved"):
    with site.lock:
        site.conversations["tok-123"].update(status=status, owner="bot", agent=None)


def system_texts(widget):
    return widget.messages("system").locator(".cc-bubble")


def rate_button(widget, rating):
    return widget.get("cc-survey").locator(f'[data-rating="{rating}"]')


def test_a_resolved_ticket_asks_how_we_did(embed, site):
    widget = hand_off(embed, site)
    resolve(site)
    survey = widget.get("cc-survey")
    expect(survey).to_be_visible()
    expect(system_texts(widget)).to_have_text(["Tim joined the conversation", RESOLVED])
    # A form named by its question, a group of five buttons with spoken labels, a labelled comment.
    expect(widget.page.get_by_role("form", name="How did we do?")).to_be_visible()
    group = survey.get_by_role("group", name="Your rating, from 1 (poor) to 5 (excellent)")
    expect(group.get_by_role("button")).to_have_text(["1", "2", "3", "4", "5"])
    expect(group.get_by_role("button", name="Rate 1 of 5: very poor")).to_have_attribute("aria-pressed", "false")
    expect(group.get_by_role("button", name="Rate 5 of 5: excellent")).to_be_visible()
    expect(survey.get_by_label("Anything to add? (optional)")).to_be_editable()
    # The chat is back with the bot at once: the survey does not hold it up.
    assert widget.storage("carechat:handoff") is None
    expect(widget.get("cc-ticket")).to_be_hidden()
    widget.say("one more question")
    assert widget.sent() == ["talk to a human", "one more question"]
    assert site.posted == []


def test_a_rating_with_a_comment_is_posted_once_and_thanked(embed, site):
    widget = hand_off(embed, site)
    resolve(site)
    rate_button(widget, 2).click()
    rate_button(widget, 5).click()
    expect(rate_button(widget, 5)).to_have_attribute("aria-pressed", "true")
    expect(rate_button(widget, 2)).to_have_attribute("aria-pressed", "false")
    widget.get("cc-survey-comment").fill("  Quick and kind  ")
    widget.get("cc-survey-submit").click()
    expect(system_texts(widget)).to_have_text(["Tim joined the conversation", RESOLVED, THANKS])
    expect(widget.get("cc-survey")).to_have_count(0)
    assert site.surveys == [("tok-123", {"rating": 5, "comment": "Quick and kind"})]
    # Answered: the token is no longer kept anywhere in the browser.
    assert "tok-123" not in widget.storage("carechat:history")
    assert widget.storage("carechat:handoff") is None


def test_rating_by_keyboard_only(embed, site):
    widget = hand_off(embed, site)
    resolve(site)
    expect(widget.get("cc-survey")).to_be_visible()
    rate_button(widget, 1).focus()
    for _ in range(3):
        widget.page.keyboard.press("ArrowRight")
    assert widget.shadow("root.activeElement.dataset.rating") == "4"
    widget.page.keyboard.press("Enter")
    expect(rate_button(widget, 4)).to_have_attribute("aria-pressed", "true")
    widget.page.keyboard.press("ArrowLeft")
    widget.page.keyboard.press("Space")
    expect(rate_button(widget, 3)).to_have_attribute("aria-pressed", "true")
    expect(rate_button(widget, 4)).to_have_attribute("aria-pressed", "false")
    widget.page.keyboard.press("Tab")
    widget.page.keyboard.press("Tab")
    widget.page.keyboard.press("Tab")
    assert widget.focused() == "cc-survey-comment"
    widget.page.keyboard.type("Fine")
    widget.page.keyboard.press("Tab")
    assert widget.focused() == "cc-survey-submit"
    widget.page.keyboard.press("Enter")
    expect(system_texts(widget).last).to_have_text(THANKS)
    assert site.surveys == [("tok-123", {"rating": 3, "comment": "Fine"})]
    # The focused form is gone: the focus goes on in the message box, not to the page.
    assert widget.focused() == "cc-input"


def test_sending_without_a_rating_asks_for_one(embed, site):
    widget = hand_off(embed, site)
    resolve(site)
    widget.get("cc-survey-submit").click()
    expect(widget.get("cc-survey-error")).to_have_text("Choose a rating from 1 to 5 first.")
    expect(widget.get("cc-survey-error")).to_have_attribute("role", "alert")
    assert widget.shadow("root.activeElement.dataset.rating") == "1"
    assert "POST /api/v1/conversations/tok-123/survey" not in site.requests
    rate_button(widget, 4).click()
    expect(widget.get("cc-survey-error")).to_be_hidden()


def test_already_rated_shows_the_api_message(embed, site):
    widget = hand_off(embed, site)
    site.surveys.append(("tok-123", {"rating": 4, "comment": ""}))  # rated from the e-mail link
    resolve(site)
    rate_button(widget, 1).click()
    widget.get("cc-survey-submit").click()
    expect(system_texts(widget).last).to_have_text("Thanks — you already rated this ticket.")
    expect(widget.get("cc-survey")).to_have_count(0)
    assert site.surveys == [("tok-123", {"rating": 4, "comment": ""})]


def test_a_422_shows_the_api_message_and_keeps_the_prompt(embed, site):
    widget = hand_off(embed, site)
    resolve(site)
    error = {"error": {"code": "validation_failed", "message": "The comment is too long.", "details": {}}}
    widget.page.route(SURVEY_URL, lambda route: route.fulfill(
        status=422, content_type="application/json", body=json.dumps(error)))
    rate_button(widget, 2).click()
    widget.get("cc-survey-submit").click()
    expect(widget.get("cc-survey-error")).to_have_text("The comment is too long.")
    expect(widget.get("cc-survey-submit")).to_have_attribute("aria-disabled", "false")
    expect(rate_button(widget, 2)).to_have_attribute("aria-pressed", "true")

    widget.page.unroute(SURVEY_URL)
    widget.get("cc-survey-submit").click()
    expect(system_texts(widget).last).to_have_text(THANKS)
    assert site.surveys == [("tok-123", {"rating": 2, "comment": ""})]


def test_a_failed_post_can_be_sent_again(embed, site):
    widget = hand_off(embed, site)
    resolve(site)
    widget.page.route(SURVEY_URL, lambda route: route.fulfill(status=503, body="busy"))
    rate_button(widget, 5).click()
    widget.get("cc-survey-submit").click()
    expect(widget.get("cc-survey-error")).to_have_text("Your rating could not be sent. Please try again.")
    widget.page.route(SURVEY_URL, lambda route: route.abort())  # and now the network is down
    widget.get("cc-survey-submit").click()
    expect(widget.get("cc-survey-submit")).to_have_attribute("aria-disabled", "false")
    expect(widget.get("cc-survey-error")).to_have_text("Your rating could not be sent. Please try again.")
    widget.page.unroute(SURVEY_URL)
    widget.get("cc-survey-submit").click()
    expect(system_texts(widget).last).to_have_text(THANKS)
    assert site.surveys == [("tok-123", {"rating": 5, "comment": ""})]


def test_a_reload_shows_the_prompt_until_it_is_answered(embed, site):
    widget = hand_off(embed, site)
    resolve(site)
    expect(widget.get("cc-survey")).to_be_visible()
    widget.page.reload()
    widget.open()
    expect(widget.get("cc-survey")).to_be_visible()
    rate_button(widget, 4).click()
    widget.get("cc-survey-submit").click()
    expect(system_texts(widget).last).to_have_text(THANKS)
    widget.page.reload()
    widget.open()
    expect(system_texts(widget)).to_have_text(["Tim joined the conversation", RESOLVED, THANKS])
    expect(widget.get("cc-survey")).to_have_count(0)
    assert len(site.surveys) == 1


def test_a_closed_ticket_asks_too(embed, site):
    widget = hand_off(embed, site)
    resolve(site, status="closed")
    expect(widget.get("cc-survey")).to_be_visible()


def test_back_with_the_bot_unresolved_asks_nothing(embed, site):
    widget = hand_off(embed, site)
    with site.lock:
        site.conversations["tok-123"].update(status="new", owner="bot", agent=None)
    # not resolved, so not called resolved either
    expect(system_texts(widget).last).to_have_text(
        "Ticket CR-10001 is still open: you can follow it in My tickets. You are chatting with our assistant again."
    )
    widget.page.wait_for_timeout(400)
    expect(widget.get("cc-survey")).to_have_count(0)


def test_a_resolution_event_on_the_live_stream_asks_too(embed, site):
    site.streams.add("tok-123")
    widget = hand_off(embed, site)
    wait_until(lambda: site.stream_requests)
    resolve(site)
    site.push_event("tok-123", "status", {"status": "resolved", "owner": "bot", "action": "resolve"})
    expect(widget.get("cc-survey")).to_be_visible()
    rate_button(widget, 5).click()
    widget.get("cc-survey-submit").click()
    expect(system_texts(widget).last).to_have_text(THANKS)
    assert site.surveys == [("tok-123", {"rating": 5, "comment": ""})]
