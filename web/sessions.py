"""Server-side login sessions.

The signed Flask cookie carries only a random token; the ``user_session`` row behind it
is the truth. Logging out deletes the row, so a cookie captured before logout no longer
works; a password reset deletes all rows of the customer. Each login starts from an
emptied cookie session with a fresh token (no fixation).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from flask import current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import UserMixin
from sqlalchemy import bindparam, delete, select, update

from billing.models import Customer, UserSession
from core.clock import now
from core.passwords import new_token, token_hash
from web.database import bookkeeping, db

TOUCH_EVERY = timedelta(seconds=60)

# Values other packages need on every page of a logged-in customer, loaded with the session
# row instead of by a query of their own: name -> a column expression correlated to
# ``customer`` (enforcement: whether the debt banner must be shown).
_EXTRAS: dict[str, object] = {}


def add_extra(name: str, column) -> None:
    """Load ``column`` (correlated to Customer) with every session; it arrives in
    ``Principal.extras[name]``. The column may use ``bindparam("now")``: the moment of the
    request (core.clock.now)."""
    _EXTRAS[name] = column
    _load_query.cache_clear()


@lru_cache(maxsize=1)
def _load_query():
    """Built once (it runs on every request): composing it cost more than the query."""
    extras = [column.label(name) for name, column in _EXTRAS.items()]
    return (
        # the customer as an ORM object (pages read and edit it); the session row's few
        # columns as plain values (a second entity doubled the ORM's loading work)
        select(Customer, *_SESSION_COLUMNS, *extras)
        .join(Customer, Customer.id == UserSession.customer_id)
        .where(UserSession.token_hash == bindparam("token_hash"))
    )


_SESSION_COLUMNS = (UserSession.id, UserSession.kind, UserSession.service_id,
                    UserSession.created_at, UserSession.last_seen_at)


class SessionRow(NamedTuple):
    """A ``user_session`` row as :func:`load` read it."""

    id: int
    kind: str
    service_id: int | None
    created_at: datetime
    last_seen_at: datetime


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """The Secure flag follows the request's scheme (honouring ProxyFix when configured)."""

    def get_cookie_secure(self, app):
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        try:
            return request.is_secure
        except RuntimeError:  # outside a request
            return False


class Principal(UserMixin):
    """A logged-in customer in the client zone (Flask-Login's user)."""

    def __init__(self, customer: Customer, row: SessionRow | None, token: str,
                 extras: dict | None = None):
        self.customer = customer
        self.row = row
        self._token = token
        self.extras = extras or {}  # see add_extra(); empty right after login

    def get_id(self) -> str:
        return self._token

    @property
    def customer_id(self) -> int:
        return self.customer.id

    @property
    def actor(self) -> str:
        return f"customer:{self.customer.customer_number}"


def start(customer: Customer, kind: str = "zone", service_id: int | None = None) -> str:
    """Create a server-side session row and return its token (caller commits)."""
    token = new_token()
    db().add(
        UserSession(
            token_hash=token_hash(token),
            kind=kind,
            customer_id=customer.id,
            service_id=service_id,
            ip=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:300],
        )
    )
    return token


def load(token: str | None, kind: str = "zone") -> tuple[SessionRow, Customer, dict] | None:
    """The live session for ``token`` (its columns), its customer and the extras
    (add_extra), or None if ended or expired."""
    if not token:
        return None
    s = db()
    moment = now()
    found = s.execute(_load_query(), {"token_hash": token_hash(token), "now": moment}).first()
    if found is None or found[2] != kind:
        return None
    customer = found[0]
    row = SessionRow(*found[1:6])
    extras = dict(zip(_EXTRAS, found[6:], strict=True))
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_MAX_HOURS"])
    if moment - row.last_seen_at > idle or moment - row.created_at > absolute:
        # both writes are the page's bookkeeping: never why it waits or fails (a GET on
        # SQLite gives them up while a long import holds the write lock; web.database)
        bookkeeping(delete(UserSession).where(UserSession.id == row.id))
        return None
    if moment - row.last_seen_at > TOUCH_EVERY:
        bookkeeping(update(UserSession).where(UserSession.id == row.id)
                    .values(last_seen_at=moment))
        row = row._replace(last_seen_at=moment)
    return row, customer, extras


def end(token: str | None) -> None:
    if token:
        db().execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))


def end_all(customer_id: int, except_token: str | None = None) -> None:
    stmt = delete(UserSession).where(UserSession.customer_id == customer_id)
    if except_token:
        stmt = stmt.where(UserSession.token_hash != token_hash(except_token))
    db().execute(stmt)


KEPT_KEYS = ("lang", "voip_token", "voip_via_zone")  # the language choice; the VoIP zone's own login


def fresh_cookie_session() -> None:
    """Drop everything the browser had before a client-zone login or logout, keeping the
    language choice and the separate VoIP-zone login (its token names a server-side row of
    its own, so keeping it cannot fix a client-zone session)."""
    kept = {key: session[key] for key in KEPT_KEYS if key in session}
    session.clear()
    session.update(kept)
