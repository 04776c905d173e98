"""Backups of the tracker itself: `flask --app app backup create | verify | restore`.

A backup is a folder holding the database dump (SQLite's backup API copy, or `pg_dump -Fc`) and
`manifest.json`: when it was taken, the schema (Alembic) revision, and each table's row count and
content checksum computed in the same snapshot as the dump.
"""
