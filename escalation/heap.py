"""Keep Python's full garbage collections off the request path of the served app.

A full (generation 2) collection walks every tracked object: at start-up that is Flask,
SQLAlchemy, Jinja's compiled templates and the KB's BM25 postings, and on a busy console it
ran every few requests, pausing that request by 114-131 ms (``bench/probe_queue_gc.py``
at 1M tickets: four such pauses in 30 queue requests; p95 264 -> 157 ms once frozen).
:func:`freeze_heap` moves everything alive now into the permanent generation, which the
collector no longer scans (``gc.freeze``, the approach of Instagram's Django fleet and
gunicorn's ``post_fork`` recipes); objects made per request are still collected as before.
It is called by the WSGI entry point after the app is built and again once the KB index is
warm, never by ``create_app`` (tests build thousands of apps and must be able to free them).
"""
from __future__ import annotations

import gc


def freeze_heap() -> None:
    gc.collect()
    gc.freeze()
