"""The served app keeps its start-up heap out of full garbage collections (escalation/heap.py)."""
from __future__ import annotations

import gc
import subprocess
import sys
import threading
from pathlib import Path

from escalation.heap import freeze_heap
from escalation.kb import warm_up_in_background

ROOT = Path(__file__).resolve().parents[2]


def test_freeze_moves_what_is_alive_into_the_permanent_generation():
    try:
        kept = [[i] for i in range(1000)]
        freeze_heap()
        assert gc.get_freeze_count() >= len(kept)
        gc.collect()
        assert all(gc.is_tracked(item) for item in kept)  # frozen, not freed
    finally:
        gc.unfreeze()


def test_wsgi_entry_point_freezes_after_building_the_app(tmp_path):
    code = ("import gc; assert gc.get_freeze_count() == 0; import escalation.wsgi; "
            "print(gc.get_freeze_count())")
    env = {"CARE_INSTANCE_DIR": str(tmp_path), "CARE_KB_INDEX_DIR": str(tmp_path / "no-index"),
           "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    assert int(out.stdout.split()[-1]) > 10_000  # Flask, SQLAlchemy, the routes, the templates


class _Index:
    def warm_up(self) -> None:
        pass


def test_warm_up_runs_its_follow_up_only_once_ready(app, monkeypatch):
    import escalation.kb as kb

    done = threading.Event()
    monkeypatch.setattr(kb, "get_index", lambda _app: _Index())
    warm_up_in_background(app, then=done.set).join(timeout=10)
    assert done.is_set() and app.extensions["care_kb_ready"] is True

    failed = threading.Event()

    class _Broken:
        def warm_up(self) -> None:
            raise OSError("disk gone")

    monkeypatch.setattr(kb, "get_index", lambda _app: _Broken())
    app.extensions.pop("care_kb_ready", None)
    warm_up_in_background(app, then=failed.set).join(timeout=10)
    assert not failed.is_set() and "disk gone" in app.extensions["care_kb_error"]
