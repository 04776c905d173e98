"""Saving an edit with versions from a view: one unit of work, committed or turned into what the
person sees (a field error beside its field, or a conflict with their input kept).

A view calls `save(work, form=form)`; `work` runs the service calls (and `remember` for an
idempotent form). The services refuse stale forms with `errors.check_version`; two saves that
cross in the database end in StaleDataError at flush or commit: both become `Saved.conflict`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from incidents.errors import EditConflict, FieldError
from incidents.extensions import db
from incidents.forms import show_error

SAVED_AT_ONCE = ("Someone saved this at the same moment. Nothing of yours was saved: "
                 "check the values now shown, then save again.")


@dataclass
class Saved:
    """What became of one save: its result, or the conflict, or a refusal shown on the form."""

    result: Any = None
    conflict: EditConflict | None = None
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.conflict is None and not self.refused

    @property
    def code(self) -> int:
        """The status of the page drawn again when it was not saved."""
        return 409 if self.conflict is not None else 422


def save(work: Callable[[], Any], *, form=None) -> Saved:
    """Run `work` and commit it; on a FieldError or a conflict roll everything back instead."""
    try:
        result = work()
        db.session.commit()
    except FieldError as error:
        db.session.rollback()
        show_error(form, error)
        return Saved(refused=True)
    except (EditConflict, StaleDataError) as error:
        db.session.rollback()
        return Saved(conflict=error if isinstance(error, EditConflict) else EditConflict(SAVED_AT_ONCE))
    return Saved(result=result)
