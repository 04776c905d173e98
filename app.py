"""WSGI entry point: `flask --app app ...` and `gunicorn app:app` both load this."""
from incidents import create_app, freeze_startup_objects

app = create_app()
freeze_startup_objects()  # a long-running server: startup objects need no garbage collection
