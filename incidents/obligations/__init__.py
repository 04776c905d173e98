"""Notification obligations: who must be told what, by when, computed from versioned rules."""
