"""Rasa's SQL tracker store, with SQLite told not to wait for the disk on every turn
(``chatbot/endpoints.yml``: ``tracker_store: type: care_tracker_store.CareSQLTrackerStore``).

Rasa 3.6 saves the tracker synchronously, inside its event loop, after every message. On
SQLite's defaults (rollback journal, ``synchronous=FULL``) each save is several fsyncs, and
while the disk answers no other conversation moves: a py-spy profile under
bench/bench_chat_open.py load had 21 % of Rasa's busy samples in ``do_commit``
(docs/benchmarks.md, "Where a turn's time goes"). With the write-ahead log and
``synchronous=NORMAL`` a commit is an append to the log and fsyncs only at checkpoints; a
committed turn survives Rasa crashing or being killed, and at most the last turns are lost if
the whole machine loses power. PostgreSQL (the scale-out tracker store) is left as it is.

Building it also installs care_action_results (action server responses checked without
re-validating Rasa's schema per turn).
"""
from __future__ import annotations

from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import event

import care_action_results

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")


def tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


class CareSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` (same tables, same URL in ``url``), SQLite in WAL mode."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa builds its tracker store once, at start: the place to tune the process
        care_action_results.install()
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", tune_sqlite)
            self.engine.dispose()  # connections opened while creating the tables get it too
