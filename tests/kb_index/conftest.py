"""Fixtures for kb_index: a small KB written into a temporary folder, the fake
embedder, and a built index."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_index import FakeEmbedder, build, open_index

ARTICLES = {
    "account/reset-password.md": """---
id: reset-password
title: Reset your password
tags: [account, password, login]
audience: public
area: account-access
---
# Reset your password

If you forgot your password you can choose a new one in a minute.

## Steps

1. Select Sign in, then Forgot your password.
2. Enter the email address of your account and open the reset link we send you.
3. Choose a new password of at least 10 characters.

## The email does not arrive

Check your spam folder. The reset link expires after 60 minutes; ask for a new one.
""",
    "account/locked-out.md": """---
id: locked-out-after-security-update
title: Locked out after a security update
tags: [account, login, security]
audience: public
area: account-access
---
# Locked out after a security update

After a security update you must verify your email address again before you can sign in.

## Verify again

Open the verification email and follow the link, then sign in with your usual password.
""",
    "billing/refund-timing.md": """---
id: refund-timing
title: When will I get my refund?
tags: [refund, returns, money]
audience: public
area: billing
---
# When will I get my refund?

We refund to the original payment method within 5 working days of receiving your return.

## Card refunds

Banks may take another 3 to 5 days to show the refund on your statement.
""",
    "orders/track-order.md": """---
id: track-your-order
title: Track your order
tags: [delivery, parcel, tracking]
audience: public
area: orders-delivery
---
# Track your order

Every order has a tracking link in the dispatch email. Use it to see where your parcel is.

## No tracking updates

Tracking can take 24 hours to update after dispatch. If nothing changes for 3 days, contact us.
""",
    "internal/manual-unlock.md": """---
id: manual-unlock-admin
title: Manually unlock an account in the admin tool
tags: [account, admin, unlock]
audience: internal
area: account-access
---
# Manually unlock an account in the admin tool

Agents can unlock a customer account by hand when reverification fails.

## Steps for agents

Open the admin tool, find the customer, choose Security, then Unlock. Note the ticket number.
""",
}


def write_kb(root: Path, articles: dict[str, str] = ARTICLES) -> Path:
    for name, text in articles.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(kb_dir, index_dir, embedder):
    build(kb_dir, index_dir, embedder)
    return open_index(index_dir, embedder=embedder, answer_threshold=0.3)
