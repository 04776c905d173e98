"""The systems catalogue's one blueprint. Its views live in views.py (the catalogue's pages),
audit_views.py (the ownership audit and the backup heartbeat endpoint), transfer_views.py (CSV
import and export, the acquisition review) and incident_views.py (the systems an incident names)."""
from flask import Blueprint

bp = Blueprint("systems", __name__)
