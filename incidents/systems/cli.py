"""`flask --app app systems ...` (being written)."""
from flask.cli import AppGroup

systems_cli = AppGroup("systems", help="The systems catalogue: backup reports, tokens, the ownership audit.")
