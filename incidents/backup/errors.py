"""The one error the backup commands report to the operator (without a traceback)."""


class BackupError(Exception):
    """A backup could not be made, read, verified or restored; the message says why and what to do."""
