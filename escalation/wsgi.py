"""WSGI entry point for gunicorn: ``gunicorn escalation.wsgi:app``."""
from escalation import create_app

app = create_app()
