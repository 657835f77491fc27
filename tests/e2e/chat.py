"""What a person does in the end-to-end tests: type in the widget, wait for the bot, sign in."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Locator, Page, expect

from .conftest import DEMO_PASSWORD, RunningStack

TIMEOUT = 60_000  # the machine is small and shared: Rasa and the KB answer slowly


def bot_messages(page: Page) -> Locator:
    return page.locator("[data-testid=cc-msg][data-sender=bot]")


def send(page: Page, text: str) -> int:
    """Send ``text``; returns how many bot messages there were before, for :func:`bot_says`."""
    before = bot_messages(page).count()
    box = page.get_by_test_id("cc-input")
    box.fill(text)
    box.press("Enter")
    return before


def bot_says(page: Page, pattern: str, after: int) -> None:
    """Wait for a bot message matching ``pattern`` among those that arrived after ``after``."""
    expect(bot_messages(page).nth(after)).to_be_visible(timeout=TIMEOUT)
    new: list[str] = []
    for _ in range(TIMEOUT // 250):
        new = bot_messages(page).all_inner_texts()[after:]
        if any(re.search(pattern, text, re.I) for text in new):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"no new bot message matched {pattern!r}; new ones: {new}")


def login(page: Page, stack: RunningStack, username: str) -> None:
    page.goto(f"{stack.api_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)


def hand_over(page: Page, name: str, email: str) -> tuple[str, int]:
    """Ask for a person, give name and e-mail, wait for the ticket banner.

    Returns the ticket number and the bot-message count before the e-mail was sent (for
    :func:`bot_says` on the confirmation)."""
    n = send(page, "I want to talk to a person")
    bot_says(page, "name", after=n)
    n = send(page, name)
    bot_says(page, "e-?mail", after=n)
    n = send(page, email)
    banner = page.get_by_test_id("cc-ticket")
    expect(banner).to_contain_text(re.compile(r"CR-\d{5}"), timeout=TIMEOUT)
    match = re.search(r"CR-\d{5}", banner.inner_text())
    assert match is not None
    return match.group(0), n


@contextmanager
def separate_people(browser: Browser, count: int, viewport: dict[str, int]) -> Iterator[list[Page]]:
    """``count`` pages, each in a browser context of its own (own cookies and storage, as a
    customer, an admin and an agent on three machines would be); all closed afterwards."""
    contexts = [browser.new_context(viewport=viewport) for _ in range(count)]
    try:
        yield [context.new_page() for context in contexts]
    finally:
        for context in contexts:
            context.close()
