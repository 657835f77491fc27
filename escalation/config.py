"""Settings: code defaults → instance config / ``CARE_*`` environment → test dict.

Every setting is declared once, as a :class:`care_settings.Setting` (the one declaration type of
escalation, kb_index and careops), with its default and a one-line help; the Flask config key is
the variable without ``CARE_``. The README's configuration table lists every one, and
``tests/escalation/test_config.py`` checks it.
"""
from __future__ import annotations

import os
from typing import Any

from care_settings import KB_INDEX_DIR, KB_SOURCE_DIR, Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "CARE_DATABASE_URL", "sqlite:///{instance}/escalation.sqlite3",
            "SQLAlchemy URL of the escalation database; `{instance}` is the instance folder."),
    Setting("SECRET_KEY", "CARE_SECRET_KEY", "dev-secret-change-me",
            "Signs session cookies and CSRF tokens; `make run` generates one per installation.", secret=True),
    Setting("SERVICE_TOKEN", "CARE_SERVICE_TOKEN", "dev-service-token",
            "Bearer token the bot's actions use to call the API.", secret=True),
    Setting("PUBLIC_URL", "CARE_PUBLIC_URL", "http://127.0.0.1:5000",
            "Base URL customers use to reach this service (tracking links, widget)."),
    Setting("RASA_URL", "CARE_RASA_URL", "http://127.0.0.1:5005",
            "Base URL of `rasa run` as the widget on the demo page reaches it."),
    KB_SOURCE_DIR,  # declared once in care_settings: kb_index reads them too
    KB_INDEX_DIR,
    Setting("WIDGET_DIR", "CARE_WIDGET_DIR", "widget/dist",
            "Folder the embeddable widget script is served from at `/widget/`."),
    Setting("MAX_CONTENT_LENGTH", "CARE_MAX_CONTENT_LENGTH", 256 * 1024,
            "Largest accepted request body in bytes; larger ones get 413."),
    Setting("WORKER_INTERVAL", "CARE_WORKER_INTERVAL", 5.0,
            "Seconds between two passes of the worker."),
    Setting("AUTO_CLOSE_DAYS", "CARE_AUTO_CLOSE_DAYS", 7,
            "Resolved tickets with no customer reply for this many days are closed."),
    Setting("FIGURES_REFRESH_SECONDS", "CARE_FIGURES_REFRESH_SECONDS", 60.0,
            "How often the worker recomputes the dashboard's and the agents' figures on a large desk "
            "(the pages say \"as of HH:MM\")."),
    Setting("FIGURES_LIVE_TICKETS", "CARE_FIGURES_LIVE_TICKETS", 20_000,
            "Below this many tickets the dashboard's and the agents' figures are computed in each request "
            "(exact); from it on they come from the worker's snapshot."),
    Setting("REDIS_URL", "CARE_REDIS_URL", "",
            "Redis URL (e.g. redis://127.0.0.1:6379/0) to fan live-chat events out between several "
            "escalation processes; empty: one process, in-memory."),
    Setting("SSE_HEARTBEAT", "CARE_SSE_HEARTBEAT", 15.0,
            "Seconds an idle live-chat stream waits before a keep-alive comment (and a database re-check)."),
    Setting("LOG_LEVEL", "CARE_LOG_LEVEL", "INFO", "Python logging level of the service and the worker."),
    Setting("MAIL_FROM", "CARE_MAIL_FROM", "Customer Care <care@support.example.com>",
            "The support address: sender of every e-mail, and the address customers write to."),
    Setting("SMTP_HOST", "CARE_SMTP_HOST", "",
            "SMTP server the worker sends e-mail through; empty: mail waits in the outbox until one is set."),
    Setting("SMTP_PORT", "CARE_SMTP_PORT", 587,
            "Port of the SMTP server (587 submission with STARTTLS, 465 SSL, 25 plain)."),
    Setting("SMTP_SECURITY", "CARE_SMTP_SECURITY", "starttls",
            "How to secure the SMTP connection: `starttls`, `ssl` or `none`."),
    Setting("SMTP_USERNAME", "CARE_SMTP_USERNAME", "", "SMTP login; empty: send without authenticating."),
    Setting("SMTP_PASSWORD", "CARE_SMTP_PASSWORD", "", "SMTP password.", secret=True),
    Setting("SMTP_TIMEOUT", "CARE_SMTP_TIMEOUT", 10.0,
            "Seconds to wait for the SMTP or IMAP server before giving up this attempt."),
    Setting("MAIL_CA_FILE", "CARE_MAIL_CA_FILE", "",
            "CA bundle (PEM) that the SMTP and IMAP servers' certificates are checked against; empty: the system's."),
    Setting("MAIL_RETRY_SECONDS", "CARE_MAIL_RETRY_SECONDS", 30.0,
            "Delay before the first retry of a mail that could not be sent; it doubles each time, up to an hour."),
    Setting("MAIL_MAX_ATTEMPTS", "CARE_MAIL_MAX_ATTEMPTS", 20,
            "Attempts before an unsent mail is marked failed (shown on /admin/outbox, where it can be sent again)."),
    Setting("MAIL_LEASE_SECONDS", "CARE_MAIL_LEASE_SECONDS", 120.0,
            "How long a worker holds the mails it claimed; after that another worker may take the unsent ones."),
    Setting("MAIL_UNVERIFIED_PER_HOUR", "CARE_MAIL_UNVERIFIED_PER_HOUR", 10,
            "Most mails per hour to a customer address nobody verified (chat customers type any address); "
            "the excess waits, with the reason on /admin/outbox. 0: no cap."),
    Setting("CHAT_REPLY_MAIL_DELAY", "CARE_CHAT_REPLY_MAIL_DELAY", 60.0,
            "Seconds an agent's chat reply may stay unseen in the customer's live chat before it is e-mailed "
            "(replies in that window go in one mail)."),
    Setting("MAIL_ATTACH_MAX_TOTAL", "CARE_MAIL_ATTACH_MAX_TOTAL", 10 * 1024 * 1024,
            "Most bytes of files attached to one outgoing mail (an agent's reply); above it the mail names the "
            "files and links to the ticket in the portal instead."),
    Setting("AUTO_CLOSE_NOTICE_DAYS", "CARE_AUTO_CLOSE_NOTICE_DAYS", 2,
            "Days before the auto-close that the customer is told their resolved ticket will close."),
    Setting("SURVEY_LINK_DAYS", "CARE_SURVEY_LINK_DAYS", 30,
            "Days the one-click rating links in the resolved mail stay valid."),
    Setting("IMAP_HOST", "CARE_IMAP_HOST", "",
            "IMAP server the worker polls for customer e-mail; empty: no polling (use `flask mail-in` from the MTA)."),
    Setting("IMAP_PORT", "CARE_IMAP_PORT", 993, "Port of the IMAP server (993 SSL, 143 STARTTLS or plain)."),
    Setting("IMAP_SECURITY", "CARE_IMAP_SECURITY", "ssl",
            "How to secure the IMAP connection: `ssl`, `starttls` or `none`."),
    Setting("IMAP_USERNAME", "CARE_IMAP_USERNAME", "", "IMAP login of the support mailbox."),
    Setting("IMAP_PASSWORD", "CARE_IMAP_PASSWORD", "", "IMAP password.", secret=True),
    Setting("IMAP_MAILBOX", "CARE_IMAP_MAILBOX", "INBOX",
            "Folder polled for new (unseen) mail; processed mail is flagged \\Seen, so give the service its own."),
    Setting("RATE_LIMIT_WINDOW", "CARE_RATE_LIMIT_WINDOW", 600,
            "Seconds a rate-limit window lasts, from the first failed attempt of a client IP."),
    Setting("RATE_LIMIT_LOOKUPS", "CARE_RATE_LIMIT_LOOKUPS", 10,
            "Failed ticket lookups (`POST /track`, unknown conversation tokens) per IP per window before 429."),
    Setting("RATE_LIMIT_LOGINS", "CARE_RATE_LIMIT_LOGINS", 10,
            "Failed console sign-ins per IP per window before 429."),
    Setting("RATE_LIMIT_TICKETS_PER_IP", "CARE_RATE_LIMIT_TICKETS_PER_IP", 10,
            "Tickets one client IP may open through the bot or the API per tickets window before 429 "
            "(with the service token: the IP the bot names in `X-Care-Client-IP`)."),
    Setting("RATE_LIMIT_TICKETS_PER_CONVERSATION", "CARE_RATE_LIMIT_TICKETS_PER_CONVERSATION", 3,
            "Tickets one bot conversation (`X-Care-Conversation`, else the body's `conversation_id`) may open "
            "per tickets window before 429."),
    Setting("RATE_LIMIT_TICKETS_WINDOW", "CARE_RATE_LIMIT_TICKETS_WINDOW", 3600,
            "Seconds of the ticket-creation windows, from a client's first ticket."),
    Setting("RATE_LIMIT_KB_SEARCHES", "CARE_RATE_LIMIT_KB_SEARCHES", 120,
            "KB searches (`GET /api/v1/kb/search`) per client IP per KB window before 429 (fair use; "
            "a page suggesting articles while someone types stays well below)."),
    Setting("RATE_LIMIT_KB_WINDOW", "CARE_RATE_LIMIT_KB_WINDOW", 60,
            "Seconds of the KB search window, from a client's first search."),
    Setting("RATE_LIMIT_TARPIT_SECONDS", "CARE_RATE_LIMIT_TARPIT_SECONDS", 1.0,
            "Seconds a 429 (over a quota, or a blocked lookup/sign-in) is held before it is sent, so a client "
            "looping past its limit costs one answer a second per connection; 0 answers at once."),
    Setting("RATE_LIMIT_TARPIT_MAX", "CARE_RATE_LIMIT_TARPIT_MAX", 100,
            "Most refusals held at once per service process; past it they are answered at once (the "
            "service's threads stay free for everyone else)."),
    Setting("RATE_LIMIT_PORTAL_MAILS", "CARE_RATE_LIMIT_PORTAL_MAILS", 5,
            "Customer-portal requests that send an e-mail (register, sign-in link, password reset) per IP "
            "per window before 429."),
    Setting("PORTAL_VERIFY_HOURS", "CARE_PORTAL_VERIFY_HOURS", 48,
            "Hours a customer's e-mail verification link stays valid (it works once)."),
    Setting("PORTAL_LINK_MINUTES", "CARE_PORTAL_LINK_MINUTES", 30,
            "Minutes a customer's sign-in, password-reset or erasure link stays valid (each works once)."),
    Setting("PORTAL_WIDGET_IDENTITY_MINUTES", "CARE_PORTAL_WIDGET_IDENTITY_MINUTES", 60,
            "Minutes the signed identity a portal page hands the chat widget stays valid (the bot then "
            "skips asking a signed-in customer's name and e-mail); signing out ends it at once."),
    Setting("ATTACHMENTS_DIR", "CARE_ATTACHMENTS_DIR", "{instance}/attachments",
            "Folder attachments are stored in (outside the web root; only who may see the ticket can download)."),
    Setting("ATTACHMENT_MAX_BYTES", "CARE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024,
            "Largest attachment accepted, in bytes (each file)."),
    Setting("ATTACHMENT_MAX_FILES", "CARE_ATTACHMENT_MAX_FILES", 5, "Most files attached to one message."),
    Setting("ATTACHMENT_TYPES", "CARE_ATTACHMENT_TYPES",
            "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain",
            "Attachment types accepted (comma-separated; decided from the file's content, and the name's "
            "extension must match). HTML and SVG are never accepted."),
    Setting("RATE_LIMIT_REDIS_PREFIX", "CARE_RATE_LIMIT_REDIS_PREFIX", "care:ratelimit:",
            "Key prefix of the rate-limit counters in Redis (used when `CARE_REDIS_URL` is set)."),
    Setting("SLACK_BOT_TOKEN", "CARE_SLACK_BOT_TOKEN", "",
            "Bot token (`xoxb-…`) of the Slack app; empty: nothing is posted to Slack.", secret=True),
    Setting("SLACK_SIGNING_SECRET", "CARE_SLACK_SIGNING_SECRET", "",
            "Signing secret of the Slack app; requests from Slack (events, buttons) are verified with it.",
            secret=True),
    Setting("SLACK_API_URL", "CARE_SLACK_API_URL", "https://slack.com/api/",
            "Base URL of the Slack Web API (a local fake in tests)."),
    Setting("SLACK_STAFF_CHANNEL", "CARE_SLACK_STAFF_CHANNEL", "",
            "Slack channel id where new tickets are announced with a button to take them; empty: none."),
    Setting("SLACK_TIMEOUT", "CARE_SLACK_TIMEOUT", 10.0,
            "Seconds to wait for the Slack Web API before this attempt counts as failed."),
)


def load_settings(instance_path: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Defaults overlaid with ``CARE_*`` environment variables, by Flask config key."""
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        value = setting.default if raw is None else setting.from_text(raw)
        if isinstance(value, str):
            value = value.replace("{instance}", instance_path)
        settings[setting.key] = value
    return settings
