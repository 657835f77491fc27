"""WSGI entry point for gunicorn: ``gunicorn escalation.wsgi:app``.

Unlike the bare app factory, the served app opens the KB index and loads the embedding
model in the background at start, and reports readiness at ``/api/v1/health/ready``. What is
alive once the app is built, and again once the index is warm, is frozen out of the garbage
collector's full passes (:mod:`escalation.heap`).
"""
from escalation import create_app
from escalation.heap import freeze_heap
from escalation.kb import warm_up_in_background

app = create_app()
freeze_heap()
warm_up_in_background(app, then=freeze_heap)
