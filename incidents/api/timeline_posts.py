"""The API's timeline posts, written in groups.

A recovery script reporting from many workers at once posts dozens of entries a second to one
incident. Written one transaction each, every post takes its own turn at what all writes share (on
SQLite the write lock, on PostgreSQL the audit chain's lock) for a few statements and a disk flush,
and the posts queue behind each other. So a post is checked on its own (token, body, incident: reads
only, with no write lock) and then handed, as plain values, to the app process's group commit
(incidents/group_commit.py): whichever request finds no write in progress writes every post waiting
at that moment in one transaction and one turn at the lock, each entry and its audit event in its
own sender's name (audit.recorder.acting_for), and every request answers once its entry is
committed; a batch that fails is answered 503 (retry) for each of its posts and stores none.

A post with an `Idempotency-Key` is written in a savepoint with its key: when a copy of it got
there first (committed, or earlier in the same batch), only that post is undone and its request
answers as a replay of the first.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import ServiceUnavailable

from incidents.api import write_schemas as schemas
from incidents.api.views import person
from incidents.audit.recorder import Attribution, acting_for
from incidents.db import reading_before_writing, utcnow, writing_from_here
from incidents.extensions import db
from incidents.group_commit import GroupCommit, NotCommitted
from incidents.idempotency import DuplicateRequest, IdempotencyKey, find
from incidents.timeline import service as timeline_service
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Key:
    """The post's Idempotency-Key, stored with it (incidents/idempotency.py's table)."""
    key: str
    fingerprint: str
    endpoint: str


@dataclass(frozen=True)
class Post:
    incident_id: int
    caller: Attribution  # the token's owner, the token and the address: the entry's author and its audit event
    author: schemas.Person
    kind: EntryKind
    body: str
    body_html: str  # rendered by the request: the batch's writer would render under the write lock
    visibility: Visibility
    occurred_at: datetime | None
    location: str  # the timeline's URL; the entry's id is added as its fragment
    key: Key | None = None


class _Duplicate:
    """A copy of this post (the same key) was stored first."""


DUPLICATE = _Duplicate()


def entry_answer(item, *, author: schemas.Person | None = None) -> schemas.Entry:
    """An entry (or a timeline item, whose `current` is its latest revision) as the API shows it;
    `author` when the caller knows them already (else read from the entry)."""
    entry: TimelineEntry = item.current if hasattr(item, "current") else item
    return schemas.Entry(id=entry.root_id, revision=entry.revision, kind=entry.kind, visibility=entry.visibility,
                         body=entry.body, occurred_at=entry.occurred_at, recorded_at=entry.recorded_at,
                         author=author or person(entry.author), public_status=entry.public_status,
                         corrected=bool(getattr(item, "corrected", False)))


def reads_first(view):
    """The view's reads before its post is handed on (the key look-up, the incident) take no write
    lock: they are a plain SQLite read, as the token's check is. `post` ends them."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        with reading_before_writing():
            return view(*args, **kwargs)

    return wrapped


def post(sent: Post) -> schemas.Entry:
    """Store `sent` with the posts waiting beside it; its entry once committed. DuplicateRequest
    when a copy of it was stored first; 503 (ServiceUnavailable) when its batch was not stored."""
    # The request's reads end here, so a request waiting for its batch holds no transaction, and
    # what it begins from here (as the batch's writer) takes the write lock.
    writing_from_here()
    try:
        result = _group().run(sent, session=db.session)
    except NotCommitted:
        raise _not_stored() from None
    if result is DUPLICATE:
        stored = find(session=db.session, user_id=sent.caller.actor_id, key=sent.key.key)
        if stored is None:  # the first copy's batch failed after all: nothing of either is stored
            raise _not_stored()
        raise DuplicateRequest(stored)
    return result


def _not_stored() -> ServiceUnavailable:
    return ServiceUnavailable("Not stored: try again in a moment.", retry_after=RETRY_AFTER_SECONDS)


def write_posts(session: Session, posts: Sequence[Post]) -> list[schemas.Entry | _Duplicate]:
    """GroupCommit's `write`: every post's entry, each in its sender's name; no commit."""
    results: list[schemas.Entry | _Duplicate] = []
    for sent in posts:
        with acting_for(sent.caller):
            results.append(_write_once(session, sent) if sent.key else _write(session, sent))
    return results


def _write(session: Session, sent: Post) -> schemas.Entry:
    entry = timeline_service.add_entry_by_ids(
        session=session, incident_id=sent.incident_id, author_id=sent.caller.actor_id, kind=sent.kind,
        body=sent.body, body_html=sent.body_html, visibility=sent.visibility, occurred_at=sent.occurred_at)
    # Built before the commit, which expires every object; the author as the request knew them
    # (loading them here would be a query under the write lock).
    return entry_answer(entry, author=sent.author)


def _write_once(session: Session, sent: Post) -> schemas.Entry | _Duplicate:
    try:
        with session.begin_nested():
            answer = _write(session, sent)
            session.add(IdempotencyKey(key=sent.key.key, user_id=sent.caller.actor_id,
                                       endpoint=sent.key.endpoint[:300], location=location_of(sent, answer.id)[:2000],
                                       fingerprint=sent.key.fingerprint, created_at=utcnow()))
            session.flush()  # a copy's key fails here, inside the savepoint, which then undoes this post only
    except IntegrityError:
        return DUPLICATE
    return answer


def location_of(sent: Post, entry_id: int) -> str:
    return f"{sent.location}#{entry_id}"


def _group() -> GroupCommit:
    """This app's group commit of API timeline posts (one per app server process)."""
    found = current_app.extensions.get("api.timeline_posts")
    if found is None:
        found = current_app.extensions.setdefault("api.timeline_posts", GroupCommit(write_posts))
    return found
