"""What the bot sends, as the customer sees it: text, buttons, article cards, history."""

import json

import pytest
from playwright.sync_api import expect

XSS = '<img src=x onerror="window.__pwned=1">'


def test_customer_message_and_bot_reply(embed):
    widget = embed()
    widget.open()
    widget.say("How do I reset my password?")
    assert widget.sent() == ["How do I reset my password?"]
    expect(widget.messages("user").locator(".cc-bubble")).to_have_text(["How do I reset my password?"])
    expect(widget.messages("user").locator(".cc-visually-hidden")).to_have_text(["You: "])
    expect(widget.get("cc-typing")).to_be_visible()

    widget.bot_says({"text": "Use the link on the sign-in page."})
    expect(widget.get("cc-typing")).to_be_hidden()
    bot = widget.messages("bot")
    expect(bot).to_have_count(2)  # the greeting, then the reply
    expect(bot.first.locator(".cc-bubble")).to_have_text("Hi! How can we help you today?")
    expect(bot.last.locator(".cc-bubble")).to_have_text("Use the link on the sign-in page.")
    # Every stored message carries its time; the greeting is not stored and has none.
    for message in (widget.messages("user").first, bot.last):
        assert message.locator("time").get_attribute("datetime").endswith("Z")


def test_links_in_bot_text_open_the_article(embed):
    """"Full article: https://…" is a link (new tab, no opener); only http(s) is linked,
    the sentence's full stop is not part of it, and the text around it stays text."""
    widget = embed()
    widget.open()
    widget.bot_says({"text": "Steps:\n1. Open https://help.example.com/help/reset#how.\n"
                             "Full article: https://help.example.com/help/reset-password. "
                             "Not this: javascript:alert(1) or ftp://files.example.com/x"})
    bubble = widget.messages("bot").last.locator(".cc-bubble")
    links = bubble.locator("a.cc-link")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("href") for i in range(2)] == [
        "https://help.example.com/help/reset#how", "https://help.example.com/help/reset-password"]
    assert links.last.get_attribute("target") == "_blank"
    assert links.last.get_attribute("rel") == "noopener noreferrer"
    expect(bubble.locator("li")).to_have_text(["Open https://help.example.com/help/reset#how."])
    assert "Not this: javascript:alert(1) or ftp://files.example.com/x" in bubble.inner_text()


def test_a_url_cannot_smuggle_markup(embed):
    widget = embed()
    widget.open()
    widget.bot_says({"text": 'See https://x.example/"><img src=x onerror="window.__pwned=1"> now'})
    bubble = widget.messages("bot").last.locator(".cc-bubble")
    expect(bubble.locator("a.cc-link")).to_have_attribute("href", "https://x.example/")
    assert widget.shadow("root.querySelectorAll('img, script').length") == 0
    assert '<img src=x onerror="window.__pwned=1">' in bubble.inner_text()
    assert widget.page.evaluate("() => window.__pwned") is None


def test_empty_input_sends_nothing_and_shift_enter_is_a_new_line(embed):
    widget = embed()
    widget.open()
    widget.get("cc-input").press("Enter")
    widget.get("cc-input").type("line one")
    widget.get("cc-input").press("Shift+Enter")
    widget.get("cc-input").type("line two")
    assert widget.sent() == []
    widget.get("cc-send").click()
    assert widget.sent() == ["line one\nline two"]


@pytest.mark.parametrize(
    "message",
    [
        {"text": XSS},
        {"text": "Pick one", "quick_replies": [{"title": XSS, "payload": "/x"}]},
        {"articles": [{"article_id": "a", "title": XSS, "url": "/help/a", "snippet": XSS}]},
    ],
    ids=["text", "quick-reply-title", "article"],
)
def test_server_text_is_never_parsed_as_html(embed, message):
    widget = embed()
    widget.open()
    widget.bot_says(message)
    expect(widget.messages("bot")).to_have_count(2)
    assert XSS in widget.messages("bot").last.inner_text()
    assert widget.shadow("root.querySelectorAll('img, script').length") == 0
    widget.page.wait_for_timeout(100)
    assert widget.page.evaluate("() => window.__pwned") is None


def test_quick_replies_send_the_payload_and_show_the_title(embed):
    widget = embed()
    widget.open()
    widget.bot_says({"text": "Did that solve it?", "quick_replies": [
        {"title": "Yes, thanks", "payload": "/affirm"},
        {"title": "No, I need a person", "payload": "/request_human"},
    ]})
    replies = widget.get("cc-reply")
    expect(replies).to_have_text(["Yes, thanks", "No, I need a person"])
    replies.last.click()
    assert widget.sent() == ["/request_human"]
    expect(widget.messages("user").locator(".cc-bubble")).to_have_text(["No, I need a person"])
    expect(replies).to_have_count(0)  # answered: the buttons go away, and stay away
    assert widget.focused() == "cc-input"
    widget.page.reload()
    widget.open()
    expect(widget.messages("bot").last.locator(".cc-bubble")).to_have_text("Did that solve it?")
    expect(widget.get("cc-reply")).to_have_count(0)


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://help.example.com/reset", "https://help.example.com/reset"),
        ("/help/reset-password", "{origin}/help/reset-password"),
        ("help/reset-password", "{origin}/help/reset-password"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("", None),
        (None, None),
    ],
)
def test_article_cards_link_only_to_http_pages(embed, site, url, href):
    widget = embed()
    widget.open()
    widget.bot_says({"articles": [
        {"article_id": "reset-password", "title": "Reset your password", "url": url,
         "snippet": "Use the Forgot password link on the sign-in page."},
    ]})
    card = widget.get("cc-card")
    expect(card).to_have_count(1)
    expect(card.locator(".cc-card-title")).to_have_text("Reset your password")
    expect(card.locator(".cc-card-snippet")).to_have_text("Use the Forgot password link on the sign-in page.")
    links = card.locator("a")
    if href is None:
        expect(links).to_have_count(0)
    else:
        expect(links).to_have_attribute("href", href.format(origin=site.url))
        expect(links).to_have_attribute("rel", "noopener noreferrer")


def test_relative_article_links_point_at_the_escalation_service(embed):
    widget = embed("{transport: window.__ccTransport, apiUrl: 'https://care.example.com/'}")
    widget.open()
    widget.bot_says({"articles": [{"title": "Reset your password", "url": "/help/reset-password"}]})
    expect(widget.get("cc-card").locator("a")).to_have_attribute(
        "href", "https://care.example.com/help/reset-password"
    )


def test_several_cards_and_malformed_entries(embed):
    widget = embed()
    widget.open()
    widget.bot_says({"articles": [
        {"article_id": "a", "title": "First", "url": "/help/a", "snippet": "one"},
        "not an article",
        None,
        {"article_id": "b", "title": "Second", "url": "/help/b"},
    ]})
    expect(widget.get("cc-card").locator(".cc-card-title")).to_have_text(["First", "Second"])


def test_unknown_payloads_are_ignored(embed):
    widget = embed()
    widget.open()
    widget.bot_says({"attachment": {"type": "image", "payload": {"src": "https://x/y.png"}}})
    widget.bot_says({"text": 42})
    widget.bot_says({"text": "still fine"})
    expect(widget.messages("bot").locator(".cc-bubble")).to_have_text(
        ["Hi! How can we help you today?", "still fine"]
    )


def test_history_survives_a_reload(embed):
    widget = embed()
    widget.open()
    widget.say("Where is my order?")
    widget.bot_says({"text": "It ships tomorrow."})
    widget.bot_says({"articles": [{"article_id": "t", "title": "Track your order", "url": "/help/t"}]})
    history = json.loads(widget.storage("carechat:history"))
    assert [(entry["sender"], entry.get("text")) for entry in history] == [
        ("user", "Where is my order?"), ("bot", "It ships tomorrow."), ("bot", None),
    ]

    widget.page.reload()
    widget.open()
    expect(widget.messages().locator(".cc-bubble")).to_have_text(
        ["Hi! How can we help you today?", "Where is my order?", "It ships tomorrow."]
    )
    expect(widget.get("cc-card")).to_have_count(1)


def test_history_is_capped(embed):
    widget = embed()
    widget.page.evaluate(
        "() => { for (let i = 0; i < 230; i++) window.__cc.events.onMessage({text: 'm' + i}); }"
    )
    history = json.loads(widget.storage("carechat:history"))
    assert len(history) == 200
    assert history[-1]["text"] == "m229"


def test_corrupt_storage_is_survived(embed):
    widget = embed()
    widget.page.evaluate(
        "() => { localStorage.setItem('carechat:history', '{not json');"
        " localStorage.setItem('carechat:handoff', '42'); }"
    )
    widget.page.reload()
    widget.open()
    expect(widget.messages()).to_have_count(1)
    expect(widget.get("cc-ticket")).to_be_hidden()


def test_messages_while_closed_show_an_unread_badge(embed):
    widget = embed()
    badge = widget.get("cc-badge")
    expect(badge).to_be_hidden()
    widget.bot_says({"text": "one"})
    widget.bot_says({"text": "two"})
    expect(badge).to_have_text("2")
    expect(widget.get("cc-launcher")).to_have_attribute("aria-label", "Open chat (2 unread)")
    widget.open()
    expect(badge).to_be_hidden()
    expect(widget.get("cc-launcher")).to_have_attribute("aria-label", "Close chat")


def test_status_shows_reconnecting(embed):
    widget = embed()
    widget.open()
    status = widget.get("cc-status")
    expect(status).to_have_text("Online")
    widget.page.evaluate("() => window.__cc.events.onStatus('reconnecting')")
    expect(status).to_have_text("Reconnecting…")
    expect(status).to_have_attribute("data-state", "reconnecting")


def test_the_transport_connects_on_first_open_only(embed):
    widget = embed()
    assert widget.page.evaluate("() => window.__cc.connects") == 0
    widget.open()
    widget.get("cc-close").click()
    widget.open()
    assert widget.page.evaluate("() => window.__cc.connects") == 1


def test_set_user_and_language_travel_with_messages(embed):
    widget = embed("{transport: window.__ccTransport, language: 'en-GB', user: {name: 'Laura'}}")
    metadata = "() => window.__cc.config.metadata()"
    assert widget.page.evaluate(metadata) == {"user": {"name": "Laura"}, "language": "en-GB"}
    widget.page.evaluate("() => CareChat.setUser({email: 'laura@example.com'})")
    assert widget.page.evaluate(metadata)["user"] == {"name": "Laura", "email": "laura@example.com"}
    widget.page.evaluate("() => CareChat.setUser(null)")
    assert widget.page.evaluate(metadata) == {"language": "en-GB"}


def test_blocked_storage_still_gives_a_working_chat(embed):
    widget = embed(embed_html=(
        "<script>Storage.prototype.setItem = function () {"
        " throw new DOMException('blocked', 'SecurityError'); };</script>"
        '<script src="/carechat.js"></script>'
        "<script>CareChat.init({transport: window.__ccTransport});</script>"
    ))
    widget.open()
    widget.say("hello")
    widget.bot_says({"text": "Hi!"})
    expect(widget.messages().locator(".cc-bubble")).to_have_text(
        ["Hi! How can we help you today?", "hello", "Hi!"]
    )


def test_numbered_steps_in_a_bot_answer_are_a_list(embed):
    widget = embed()
    widget.open()
    widget.bot_says({"text": "From “Reactivate an account”:\nHow to reactivate your account\n"
                             "1. Go to the sign-in page.\n2. Enter your email " + XSS + "\n"
                             "3. Open the link.\nFull article: /help/reactivate"})
    bubble = widget.messages("bot").last.locator(".cc-bubble")
    steps = bubble.locator("ol[data-testid=cc-steps] > li")
    expect(steps).to_have_text(["Go to the sign-in page.", "Enter your email " + XSS, "Open the link."])
    expect(bubble.locator(".cc-para")).to_have_text(
        ["From “Reactivate an account”:\nHow to reactivate your account", "Full article: /help/reactivate"])
    assert widget.shadow("root.querySelectorAll('img, script').length") == 0
    # the customer's own text is never turned into a list
    widget.say("1. first\n2. second")
    expect(widget.messages("user").last.locator("ol")).to_have_count(0)
