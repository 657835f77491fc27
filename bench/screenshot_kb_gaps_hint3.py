"""The KB-gap report on HINT3: a screenshot of ``/admin/kb-gaps`` for the README (issue 15).

A fresh SQLite desk gets one HINT3 bot's test messages that the bot could not place
(``NO_NODES_DETECTED``, the messages a gap report sees) as the bot's ``unanswered`` outcomes,
spread evenly over the last 27 days (HINT3 has no dates, so the trend column shows only
noise); the service runs with the real KB index and model; Debian's
chromium signs in as the admin and takes a full-page screenshot of the report.

    .venv/bin/python bench/screenshot_kb_gaps_hint3.py ../shared/data/hint3 [--bot sofmattress]

Writes ``docs/screenshots/admin-kb-gaps-hint3-<bot>.png`` and prints the report's size.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from werkzeug.serving import make_server  # noqa: E402

from escalation import create_app  # noqa: E402
from escalation.db import db  # noqa: E402
from escalation.models import BotOutcome, utcnow  # noqa: E402
from escalation.schema import upgrade  # noqa: E402
from escalation.users import seed_demo_users  # noqa: E402

PASSWORD = "hint3-password-1"
PORT = 5150
CHROMIUM = "/usr/bin/chromium"


def unplaced(hint3: Path, bot: str) -> list[str]:
    with (hint3 / "dataset/v2/test" / f"{bot}_test.csv").open(encoding="utf-8") as handle:
        return [row["sentence"].strip() for row in csv.DictReader(handle)
                if row["label"] == "NO_NODES_DETECTED" and row["sentence"].strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hint3", type=Path)
    parser.add_argument("--bot", default="sofmattress", choices=("sofmattress", "curekart", "powerplay11"))
    args = parser.parse_args()
    messages = unplaced(args.hint3, args.bot)
    out = ROOT / "docs" / "screenshots" / f"admin-kb-gaps-hint3-{args.bot}.png"
    with tempfile.TemporaryDirectory(prefix="kb-gaps-hint3-") as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/desk.sqlite3", "SECRET_KEY": "hint3",
                          "WTF_CSRF_ENABLED": False, "PUBLIC_URL": f"http://127.0.0.1:{PORT}",
                          "KB_INDEX_DIR": str(ROOT / "var" / "kb_index"), "KB_SOURCE_DIR": str(ROOT / "data" / "kb"),
                          "LOG_LEVEL": "WARNING"})
        upgrade(app)
        now = utcnow()
        with app.app_context():
            seed_demo_users(db.session, PASSWORD)
            step = timedelta(days=27) / max(len(messages), 1)
            for i, text in enumerate(messages):
                db.session.add(BotOutcome(conversation_id=f"hint3-{args.bot}-{i}", outcome="unanswered",
                                          question=text, created_at=now - timedelta(hours=1) - step * i))
            db.session.commit()
        server = make_server("127.0.0.1", PORT, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                     args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"http://127.0.0.1:{PORT}/login")
                page.fill("#username", "kim")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.goto(f"http://127.0.0.1:{PORT}/admin/kb-gaps?days=28", timeout=300_000)
                groups = page.locator("[data-testid=kb-gap]").count()
                page.screenshot(path=str(out), full_page=True,  # the largest groups (the page goes on)
                                clip={"x": 0, "y": 0, "width": 1280, "height": 1900})
                browser.close()
        finally:
            server.shutdown()
            app.extensions["care_engine"].dispose()
    print(f"{args.bot}: {len(messages)} unplaced messages, {groups} groups on the page; wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
