"""widget/README.md says what the widget does: its options table and its embed snippet."""

import json
import re
from pathlib import Path

from playwright.sync_api import expect

README = (Path(__file__).resolve().parents[2] / "widget" / "README.md").read_text()


def documented_options():
    section = README.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \| (.+) \|$", section, re.MULTILINE)
    return {name: json.loads(default) for name, default, _help in rows}


def test_every_option_is_documented_with_its_default(embed):
    widget = embed()
    defaults = widget.page.evaluate("() => CareChat.defaults")
    assert documented_options() == defaults


def test_the_embed_snippet_works(embed, site, fake_rasa):
    snippet = re.search(r"## Embed.*?```html\n(.*?)```", README, re.DOTALL)[1]
    rasa = fake_rasa()
    html = snippet.replace("https://care.example.com/widget/carechat.js", "/carechat.js").replace(
        "https://bot.example.com", rasa.url
    )
    site.conversations["tok-socket"] = {
        "number": "CR-10001", "status": "new", "owner": "agent", "agent": "Tim",
        "messages": [{"id": 1, "author": "agent", "author_name": "Tim", "body": "Hi, Tim here.",
                      "created_at": "2024-05-01T10:00:00Z"}],
    }
    widget = embed(embed_html=html)
    widget.open()
    expect(widget.page.get_by_role("dialog", name="ACME Customer Care")).to_be_visible()
    widget.say("hello")
    expect(widget.messages("bot").last.locator(".cc-bubble")).to_have_text("Hi! I am the ACME assistant.")
    # apiUrl defaults to where carechat.js came from: the ticket is followed there.
    widget.say("human")
    expect(widget.messages("agent").locator(".cc-bubble")).to_have_text(["Hi, Tim here."])
