"""Keyboard use, roles and names, visible focus."""

from playwright.sync_api import expect


def tab_to_launcher(widget, presses=6):
    for _ in range(presses):
        widget.page.keyboard.press("Tab")
        if widget.focused() == "cc-launcher":
            return
    raise AssertionError("the launcher is not reachable with Tab")


def test_keyboard_only_conversation(embed):
    widget = embed()
    tab_to_launcher(widget)
    widget.page.keyboard.press("Enter")
    expect(widget.get("cc-panel")).to_be_visible()
    assert widget.focused() == "cc-input"

    widget.page.keyboard.type("My account is locked")
    widget.page.keyboard.press("Enter")
    assert widget.sent() == ["My account is locked"]
    assert widget.focused() == "cc-input"

    widget.page.keyboard.press("Escape")
    expect(widget.get("cc-panel")).to_be_hidden()
    assert widget.focused() == "cc-launcher"

    widget.page.keyboard.press("Space")
    expect(widget.get("cc-panel")).to_be_visible()


def test_escape_from_a_quick_reply_closes_too(embed):
    widget = embed()
    widget.open()
    widget.bot_says({"text": "Solved?", "quick_replies": [{"title": "Yes", "payload": "/affirm"}]})
    widget.get("cc-reply").focus()
    widget.page.keyboard.press("Escape")
    expect(widget.get("cc-panel")).to_be_hidden()
    assert widget.focused() == "cc-launcher"


def test_escape_on_the_launcher_closes_the_open_panel(embed):
    widget = embed()
    widget.open()
    widget.get("cc-launcher").focus()
    widget.page.keyboard.press("Escape")
    expect(widget.get("cc-panel")).to_be_hidden()
    assert widget.focused() == "cc-launcher"


def test_close_button_and_api_return_focus_to_the_launcher(embed):
    widget = embed()
    widget.open()
    widget.get("cc-close").click()
    assert widget.focused() == "cc-launcher"
    widget.page.evaluate("() => CareChat.open()")
    assert widget.focused() == "cc-input"
    widget.page.evaluate("() => CareChat.close()")
    expect(widget.get("cc-panel")).to_be_hidden()
    assert widget.focused() == "cc-launcher"


def test_roles_and_names(embed):
    widget = embed("{transport: window.__ccTransport, title: 'ACME help'}")
    launcher = widget.get("cc-launcher")
    assert launcher.evaluate("e => e.tagName") == "BUTTON"
    expect(launcher).to_have_attribute("aria-label", "Open chat")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher.locator(".cc-icon--chat")).to_be_visible()
    widget.open()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(launcher).to_have_attribute("aria-label", "Close chat")
    expect(launcher.locator(".cc-icon--close")).to_be_visible()
    expect(launcher.locator(".cc-icon--chat")).to_be_hidden()
    page = widget.page
    expect(page.get_by_role("dialog", name="ACME help")).to_be_visible()
    expect(widget.get("cc-log")).to_have_attribute("role", "log")
    expect(widget.get("cc-log")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("textbox", name="Your message")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Close chat").last).to_be_visible()


def test_focus_is_visible(embed):
    widget = embed()
    tab_to_launcher(widget)
    outline = widget.get("cc-launcher").evaluate(
        "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline == ["solid", "3px"]
    widget.page.keyboard.press("Enter")
    widget.page.keyboard.press("Tab")  # to the send button
    assert widget.focused() == "cc-send"
    assert widget.get("cc-send").evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
