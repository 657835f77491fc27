"""care_tracker_store: Rasa's SQL tracker store on SQLite in write-ahead-log mode."""

from __future__ import annotations

import warnings

from conftest import run
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import MovedIn20Warning

with warnings.catch_warnings():
    # Rasa 3.6's tracker store declares its tables with SQLAlchemy 1.4's declarative_base, and
    # care_action_results imports TensorFlow/Keras (through rasa.core.actions), which warn as they load
    warnings.simplefilter("ignore", MovedIn20Warning)
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", SyntaxWarning)
    from care_tracker_store import CareSQLTrackerStore
    from rasa.core.tracker_store import SQLTrackerStore


def pragma(store: SQLTrackerStore, name: str) -> object:
    with store.engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_trackers_are_written_ahead_without_a_full_sync(tmp_path):
    store = CareSQLTrackerStore(host=f"sqlite:///{tmp_path / 'tracker.db'}", domain=Domain.empty())
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "synchronous") == 1  # NORMAL (FULL is 2)


def test_a_saved_conversation_reads_back_the_same_with_rasa_s_own_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = CareSQLTrackerStore(host=url, domain=Domain.empty())
    tracker = DialogueStateTracker.from_events("laura", [
        ActionExecuted("action_listen"), UserUttered("my account is inactive", {"name": "ask_kb"})])
    run(store.save(tracker))
    again = run(SQLTrackerStore(host=url, domain=Domain.empty()).retrieve("laura"))
    assert again is not None and again.latest_message.text == "my account is inactive"
    assert [type(e) for e in again.events] == [ActionExecuted, UserUttered]
