"""The dashboard's and the agents' figures from the worker's snapshot (issue 15, migration 0017).

On a desk past ``CARE_FIGURES_LIVE_TICKETS`` tickets the pages read the figures the worker
computed (``figure_snapshots.refresh_due``) and say "as of HH:MM"; the snapshot must be the same
figures a direct computation gives, and a small desk keeps computing them in the request.
"""
from __future__ import annotations

import ast
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from escalation import dashboard, figure_snapshots
from escalation.db import db
from escalation.models import FigureSnapshot, User, utcnow
from escalation.worker import figures_pass

from .test_feedback import resolved_ticket


def desk_with_figures(app, client, bot_headers, ratings=(4, 2)):  # type: ignore[no-untyped-def]
    """Tickets resolved by Tim (first reply and resolution times) and rated, plus a bot outcome."""
    for i, rating in enumerate(ratings):
        opened = resolved_ticket(app, client, bot_headers, key=f"snap-{i}")
        rated = client.post(f"/api/v1/conversations/{opened['token']}/survey", json={"rating": rating})
        assert rated.status_code == 201
    client.post("/api/v1/bot/outcomes", headers=bot_headers, json={"conversation_id": "s0", "outcome": "self_served"})


def test_snapshots_hold_the_same_figures_as_a_direct_computation(app, client, bot_headers):
    desk_with_figures(app, client, bot_headers)
    now = utcnow()
    with app.app_context():
        refreshed = figure_snapshots.refresh_due(db.session, refresh_seconds=60, now=now)
        db.session.commit()
        assert refreshed == ["agents:30", "dashboard:14", "dashboard:30", "dashboard:90"]
        for days in (14, 30, 90):
            snap = figure_snapshots.snapshot(db.session, f"dashboard:{days}", live_tickets=0, refresh_seconds=60, now=now)
            assert snap.as_of == now
            assert snap.value == dashboard.build(db.session, days=days, now=now)
        direct = dashboard.agent_figures(db.session, now - timedelta(days=30))
        snap = figure_snapshots.snapshot(db.session, "agents:30", live_tickets=0, refresh_seconds=60, now=now)
        assert snap.value == dashboard.period_figures(db.session, now - timedelta(days=30))
        tim = db.session.scalar(select(User.id).where(User.username == "tim"))
        assert snap.value[tim] == replace(direct[tim], completed=2)  # the workload table's "completed"
        assert snap.value[tim].csat_average == 3.0 and snap.value[tim].csat_count == 2
        assert snap.value[tim].median_resolution is not None
        # nothing due a moment later; everything again once a refresh interval has passed
        assert figure_snapshots.refresh_due(db.session, refresh_seconds=60, now=now + timedelta(seconds=30)) == []
        assert len(figure_snapshots.refresh_due(db.session, refresh_seconds=60, now=now + timedelta(seconds=61))) == 4


def test_a_large_desk_shows_the_snapshot_with_its_time_until_the_worker_refreshes_it(app, client, bot_headers, auth):
    app.config["FIGURES_LIVE_TICKETS"] = 1  # "large": the pages read snapshots
    desk_with_figures(app, client, bot_headers, ratings=(4,))
    with app.app_context():
        assert figures_pass(app) == 4
    auth.login("kim")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="figures-as-of"' in page and "4.0 / 5" in page
    assert 'data-testid="figures-as-of"' in client.get("/admin/dashboard?days=90").get_data(as_text=True)
    # a new rating: the snapshot still says 4.0 until the worker's next refresh
    opened = resolved_ticket(app, client, bot_headers, key="later")
    client.post(f"/api/v1/conversations/{opened['token']}/survey", json={"rating": 2})
    assert "4.0 / 5" in client.get("/admin/").get_data(as_text=True)
    with app.app_context():
        assert figures_pass(app) == 0  # not due yet
        db.session.execute(FigureSnapshot.__table__.update().values(computed_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
        assert figures_pass(app) == 4
    assert "3.0 / 5" in client.get("/admin/").get_data(as_text=True)
    auth.login("tim")
    page = client.get("/agent/").get_data(as_text=True)
    assert 'data-testid="figures-as-of"' in page and "3.0 / 5" in page


def test_a_stale_snapshot_is_recomputed_in_the_request(app, client, bot_headers, auth):
    """The worker stopped: a snapshot older than STALE_REFRESHES refreshes is not shown."""
    app.config["FIGURES_LIVE_TICKETS"] = 1
    desk_with_figures(app, client, bot_headers, ratings=(5,))
    auth.login("kim")
    assert "5.0 / 5" in client.get("/admin/").get_data(as_text=True)  # no snapshot yet: computed and stored
    opened = resolved_ticket(app, client, bot_headers, key="later")
    client.post(f"/api/v1/conversations/{opened['token']}/survey", json={"rating": 1})
    with app.app_context():
        old = utcnow() - timedelta(seconds=60 * figure_snapshots.STALE_REFRESHES + 1)
        db.session.execute(FigureSnapshot.__table__.update().values(computed_at=old))
        db.session.commit()
    assert "3.0 / 5" in client.get("/admin/").get_data(as_text=True)


def test_a_small_desk_computes_its_figures_in_the_request(app, client, bot_headers, auth):
    desk_with_figures(app, client, bot_headers, ratings=(4,))
    with app.app_context():
        assert figures_pass(app) == 0
    auth.login("kim")
    page = client.get("/admin/").get_data(as_text=True)
    assert "4.0 / 5" in page and "figures-as-of" not in page
    assert "figures-as-of" not in client.get("/admin/dashboard").get_data(as_text=True)
    opened = resolved_ticket(app, client, bot_headers, key="later")
    client.post(f"/api/v1/conversations/{opened['token']}/survey", json={"rating": 2})
    assert "3.0 / 5" in client.get("/admin/").get_data(as_text=True)  # at once
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FigureSnapshot)) == 0


def test_another_period_is_computed_by_its_page_and_kept_not_refreshed_by_the_worker(app, client, bot_headers,
                                                                                      auth):
    app.config["FIGURES_LIVE_TICKETS"] = 1
    desk_with_figures(app, client, bot_headers, ratings=(4,))
    auth.login("kim")
    assert 'data-testid="figures-as-of"' in client.get("/admin/dashboard?days=120").get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(FigureSnapshot, "dashboard:120")
        assert stored is not None
        assert figure_snapshots._load("dashboard:120", stored.payload) == dashboard.build(
            db.session, days=120, now=stored.computed_at)
        db.session.execute(FigureSnapshot.__table__.update().values(computed_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
        assert "dashboard:120" not in figure_snapshots.refresh_due(db.session, refresh_seconds=60)


# --- one table of snapshot kinds, read by every console through one function -----------------

def test_every_kind_of_snapshot_is_one_row_and_round_trips(app, client, bot_headers):
    """Computed, stored and read back through its row of ``SNAPSHOT_KINDS``, nothing else."""
    desk_with_figures(app, client, bot_headers)
    now = utcnow()
    with app.app_context():
        assert sorted(figure_snapshots.SNAPSHOT_KINDS) == ["agents", "dashboard"]
        for kind in figure_snapshots.SNAPSHOT_KINDS:
            key = f"{kind}:7"
            value = figure_snapshots.refresh(db.session, key, now=now)
            assert value == figure_snapshots.SNAPSHOT_KINDS[kind].compute(db.session, 7, now)
            assert figure_snapshots._load(key, db.session.get(FigureSnapshot, key).payload) == value


@pytest.mark.parametrize("key", ["queue:30", "agents", "dashboard:x", ":14"])
def test_a_key_of_no_kind_is_refused_not_guessed(app, key):
    with app.app_context(), pytest.raises(ValueError, match="no figure snapshot"):
        figure_snapshots.refresh(db.session, key)


def test_the_consoles_read_figures_through_the_figures_module_not_another_blueprint():
    """The agent console took its snapshot wrapper from admin/dashboard.py: one blueprint
    importing another's route module. Every page uses ``figure_snapshots.page_snapshot`` instead."""
    root = Path(__file__).resolve().parents[2] / "escalation"
    importers = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("admin.dashboard"):
                importers.append(path.relative_to(root).as_posix())
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == "dashboard" \
                    and path.parent.name == "admin":
                importers.append(path.relative_to(root).as_posix())
    assert importers == []
    assert callable(figure_snapshots.page_snapshot)
