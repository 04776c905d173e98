"""WSGI entry point: `flask --app app ...` and `gunicorn app:app` both load this."""
from incidents import create_app

app = create_app()
