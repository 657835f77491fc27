"""WSGI entry point for gunicorn: ``gunicorn escalation.wsgi:app``.

Unlike the bare app factory, the served app opens the KB index and loads the embedding
model in the background at start, and reports readiness at ``/api/v1/health/ready``.
"""
from escalation import create_app
from escalation.kb import warm_up_in_background

app = create_app()
warm_up_in_background(app)
