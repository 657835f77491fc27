"""The KB index inside the service: opened once per process, on first use.

A stale or corrupt index is rebuilt from ``KB_SOURCE_DIR`` rather than served.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app

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
            from .db import db
            from .publishing import sync_index

            with app.app_context():
                sync_index(db.session, index)
            app.extensions["care_kb"] = index
    return index


def warm_up_in_background(app: Flask) -> threading.Thread:
    """Open the index and load the model in a thread, so the first question is not slow.

    Called by the WSGI entry point (not by create_app, so tests and CLI commands stay light);
    ``/api/v1/health/ready`` answers 200 once this is done.
    """

    def warm() -> None:
        try:
            get_index(app).warm_up()
            app.extensions["care_kb_ready"] = True
        except Exception as exc:  # noqa: BLE001 — report any failure through the readiness check
            app.extensions["care_kb_error"] = f"{type(exc).__name__}: {exc}"
            app.logger.exception("KB index could not be opened")

    thread = threading.Thread(target=warm, name="care-kb-warm-up", daemon=True)
    thread.start()
    return thread
