"""The KB index inside the service: opened once per process, on first use, with the articles
published from tickets (``publishing``) added to it.

A stale or corrupt index is rebuilt from ``KB_SOURCE_DIR`` rather than served.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import db
from .models import PublishedArticle

_lock = threading.Lock()


def setting_path(app: Flask, key: str) -> Path:
    """A folder setting; relative paths are relative to the repository root."""
    path = Path(app.config[key])
    return path if path.is_absolute() else Path(app.root_path).parent / path


def get_index(app: Flask | None = None) -> Any:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    index = app.extensions.get("care_kb")
    if index is not None:
        return index
    with _lock:
        index = app.extensions.get("care_kb")
        if index is None:
            import kb_index  # heavy (torch, faiss): imported on first use, never at import time

            source, target = setting_path(app, "KB_SOURCE_DIR"), setting_path(app, "KB_INDEX_DIR")
            # a missing, stale, corrupt or other-model index is rebuilt here, never served
            index = kb_index.open_index(target, source_dir=source,
                                        embedder=app.extensions.get("care_kb_embedder"))
            with app.app_context():
                sync_index(db.session, index)
            app.extensions["care_kb"] = index
    return index


def to_kb_article(row: PublishedArticle):  # -> kb_index.Article
    from kb_index import Article

    return Article(id=row.id, title=row.title, body=f"# {row.title}\n\n{row.body}", audience=row.audience,
                   url=f"/help/{row.id}", tags=("from-ticket",), area=row.area)


def index_article(app: Flask, row: PublishedArticle) -> None:
    get_index(app).upsert_article(to_kb_article(row))


def sync_index(session: Session, index: object) -> int:
    """Add published articles that the index lacks (after a rebuild from data/kb)."""
    added = 0
    for row in session.scalars(select(PublishedArticle)):
        current = index.get_article(row.id)  # type: ignore[attr-defined]
        if current is None or current.title != row.title:
            index.upsert_article(to_kb_article(row))  # type: ignore[attr-defined]
            added += 1
    return added


def warm_up_in_background(app: Flask, then: Callable[[], None] | None = None) -> threading.Thread:
    """Open the index and load the model in a thread, so the first question is not slow.

    Called by the WSGI entry point (not by create_app, so tests and CLI commands stay light);
    ``/api/v1/health/ready`` answers 200 once this is done; ``then`` runs after a successful
    warm-up (the WSGI entry point freezes the heap there).
    """

    def warm() -> None:
        try:
            get_index(app).warm_up()
            app.extensions["care_kb_ready"] = True
            if then is not None:
                then()
        except Exception as exc:  # noqa: BLE001 — report any failure through the readiness check
            app.extensions["care_kb_error"] = f"{type(exc).__name__}: {exc}"
            app.logger.exception("KB index could not be opened")

    thread = threading.Thread(target=warm, name="care-kb-warm-up", daemon=True)
    thread.start()
    return thread
