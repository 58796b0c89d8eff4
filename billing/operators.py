"""The console's operators (Flask-free): creating, authenticating, disabling them; their
TOTP second factor (RFC 6238) with single-use recovery codes; their server-side sessions.

Views (``console/``) and commands (``console/cli.py``) call these on a SQLAlchemy session;
they flush, the doors commit. Every change of access is audited with its actor.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from billing.models.operators import Operator, OperatorRecoveryCode, OperatorRole, OperatorSession
from core import audit
from core.clock import now
from core.errors import Conflict, Invalid
from core.passwords import hash_password, needs_rehash, new_token, token_hash, verify_password

LOGIN_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
TOTP_ISSUER = "ispzone"
RECOVERY_CODES = 10
TOTP_PERIOD = 30  # seconds (RFC 6238 default; every authenticator app uses it)


class OperatorError(Invalid):
    """A refused change of an operator (bad login, role, password; unknown operator)."""


class WrongCode(Invalid):
    """A second-factor code that is wrong, replayed or used up."""


class OperatorExists(Conflict):
    """``operators add`` with a login that is taken."""


# -- operators ----------------------------------------------------------------------------


def find(session: Session, login: str) -> Operator | None:
    return session.scalar(select(Operator).where(Operator.login == login.strip().lower()))


def get(session: Session, login: str) -> Operator:
    operator = find(session, login)
    if operator is None:
        raise OperatorError(f"no operator {login!r}")
    return operator


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"the password must have at least {MIN_PASSWORD} characters")


def create(session: Session, login: str, *, role: str, password: str, name: str = "",
           email: str | None = None, actor: str, ip: str | None = None) -> Operator:
    """A new operator; refused (writing nothing) for a bad login, role or password or a
    login that is taken."""
    login = login.strip().lower()
    if not LOGIN_RE.match(login):
        raise OperatorError(
            "the login must be 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter")
    try:
        role = OperatorRole(role)
    except ValueError:
        raise OperatorError(
            f"unknown role {role!r} (use {', '.join(r.value for r in OperatorRole)})") from None
    check_password(password)
    if find(session, login) is not None:
        raise OperatorExists(f"an operator {login!r} exists already")
    operator = Operator(login=login, role=role.value, name=(name or "").strip(),
                        email=(email or "").strip() or None, password_hash=hash_password(password),
                        totp_enabled=False, created_at=now())
    session.add(operator)
    session.flush()
    audit.record(session, "operator.created", actor=actor, ip=ip,
                 details={"login": login, "role": role.value})
    return operator


def authenticate(session: Session, login: str, password: str) -> Operator | None:
    """The active operator if the password is right (first factor only). An unknown or
    disabled login costs the same time and gets the same None."""
    operator = find(session, login)
    ok = verify_password(operator.password_hash if operator else None, password)
    if not ok or operator is None or not operator.active:
        return None
    if needs_rehash(operator.password_hash):
        operator.password_hash = hash_password(password)
    return operator


def set_password(session: Session, operator: Operator, password: str, *, actor: str,
                 ip: str | None = None) -> None:
    check_password(password)
    operator.password_hash = hash_password(password)
    end_sessions(session, operator)
    audit.record(session, "operator.password_set", actor=actor, ip=ip,
                 details={"login": operator.login})


def disable(session: Session, operator: Operator, *, actor: str, ip: str | None = None) -> None:
    """No more access: the operator's sessions end at once. Refused for the last active
    admin (nobody could manage operators in the console any more)."""
    if not operator.active:
        raise OperatorError(f"{operator.login} is disabled already")
    if operator.role == OperatorRole.ADMIN and _active_admins(session) <= 1:
        raise Conflict(f"{operator.login} is the last active admin")
    operator.disabled_at = now()
    end_sessions(session, operator)
    audit.record(session, "operator.disabled", actor=actor, ip=ip,
                 details={"login": operator.login})


def enable(session: Session, operator: Operator, *, actor: str, ip: str | None = None) -> None:
    if operator.active:
        raise OperatorError(f"{operator.login} is active already")
    operator.disabled_at = None
    audit.record(session, "operator.enabled", actor=actor, ip=ip,
                 details={"login": operator.login})


def _active_admins(session: Session) -> int:
    return len(session.scalars(select(Operator.id).where(
        Operator.role == OperatorRole.ADMIN.value, Operator.disabled_at.is_(None))).all())


def listing(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.login)))


# -- TOTP -------------------------------------------------------------------------------------


def totp_required(operator: Operator, required_roles: frozenset[str]) -> bool:
    return operator.role in required_roles


def _step(moment: datetime) -> int:
    return int(moment.timestamp()) // TOTP_PERIOD


def begin_enrolment(session: Session, operator: Operator) -> str:
    """A new secret for an operator without a confirmed second factor (kept until confirmed
    or replaced); returns it."""
    if operator.totp_enabled:
        raise Conflict("the second factor is set up already; an admin can reset it")
    operator.totp_secret = pyotp.random_base32()
    operator.totp_last_step = None
    session.flush()
    return operator.totp_secret


def provisioning_uri(operator: Operator, issuer: str = TOTP_ISSUER) -> str:
    return pyotp.TOTP(operator.totp_secret or "").provisioning_uri(
        name=operator.login, issuer_name=issuer)


def _normal_code(code: str) -> str:
    return re.sub(r"\s+", "", code or "")


def _accept_code(operator: Operator, code: str, moment: datetime) -> bool:
    """Whether ``code`` is the operator's code for the current time step or one step either
    side (clock drift), and newer than the last accepted one (no replay). Remembers it."""
    code = _normal_code(code)
    if not operator.totp_secret or not re.fullmatch(r"\d{6}", code):
        return False
    totp = pyotp.TOTP(operator.totp_secret)
    current = _step(moment)
    for step in (current - 1, current, current + 1):
        if operator.totp_last_step is not None and step <= operator.totp_last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            operator.totp_last_step = step
            return True
    return False


def confirm_enrolment(session: Session, operator: Operator, code: str, *, actor: str,
                      ip: str | None = None, moment: datetime | None = None) -> list[str]:
    """The first code from the authenticator app proves it holds the secret: the second
    factor is on, and the 10 recovery codes are returned (shown once, kept hashed)."""
    if operator.totp_enabled:
        raise Conflict("the second factor is set up already")
    if not _accept_code(operator, code, moment or now()):
        raise WrongCode("the code is wrong; type the 6 digits your app shows now")
    operator.totp_enabled = True
    codes = _new_recovery_codes(session, operator)
    audit.record(session, "operator.2fa_enrolled", actor=actor, ip=ip,
                 details={"login": operator.login})
    return codes


def verify_second_factor(session: Session, operator: Operator, code: str, *,
                         ip: str | None = None, moment: datetime | None = None) -> bool:
    """A TOTP code, or else an unused recovery code (which is used up). False for a wrong,
    replayed or used code."""
    if not operator.totp_enabled:
        return False
    if _accept_code(operator, code, moment or now()):
        session.flush()
        return True
    normal = _normal_recovery(code)
    if not normal:
        return False
    found = session.scalar(select(OperatorRecoveryCode).where(
        OperatorRecoveryCode.operator_id == operator.id,
        OperatorRecoveryCode.code_hash == token_hash(normal),
        OperatorRecoveryCode.used_at.is_(None)))
    if found is None:
        return False
    # single use even against a concurrent request: only one UPDATE finds it unused
    used = session.execute(update(OperatorRecoveryCode).where(
        OperatorRecoveryCode.id == found.id, OperatorRecoveryCode.used_at.is_(None)
    ).values(used_at=now()).execution_options(synchronize_session=False)).rowcount
    if used != 1:
        return False
    session.expire(found)
    left = unused_recovery_codes(session, operator)
    audit.record(session, "operator.recovery_code_used", actor=operator.actor, ip=ip,
                 details={"login": operator.login, "left": left})
    return True


def reset_second_factor(session: Session, operator: Operator, *, actor: str,
                        ip: str | None = None) -> None:
    """Forget the operator's authenticator and recovery codes (a lost phone); they enrol
    again at their next login. Their sessions end."""
    operator.totp_enabled = False
    operator.totp_secret = None
    operator.totp_last_step = None
    session.execute(delete(OperatorRecoveryCode).where(
        OperatorRecoveryCode.operator_id == operator.id))
    end_sessions(session, operator)
    audit.record(session, "operator.2fa_reset", actor=actor, ip=ip,
                 details={"login": operator.login})


def set_fixed_totp(session: Session, operator: Operator, secret: str) -> None:
    """The demo's operator: a known secret, enrolled (README prints it). Never in production
    data."""
    operator.totp_secret = secret
    operator.totp_enabled = True
    operator.totp_last_step = None
    session.flush()


_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def _normal_recovery(code: str) -> str:
    code = re.sub(r"[\s-]+", "", (code or "").lower())
    return code if re.fullmatch(r"[a-z0-9]{10}", code) else ""


def _new_recovery_codes(session: Session, operator: Operator) -> list[str]:
    session.execute(delete(OperatorRecoveryCode).where(
        OperatorRecoveryCode.operator_id == operator.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        session.add(OperatorRecoveryCode(operator_id=operator.id, code_hash=token_hash(raw),
                                         created_at=now()))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    session.flush()
    return codes


def unused_recovery_codes(session: Session, operator: Operator) -> int:
    return len(session.scalars(select(OperatorRecoveryCode.id).where(
        OperatorRecoveryCode.operator_id == operator.id,
        OperatorRecoveryCode.used_at.is_(None))).all())


# -- sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta


TOUCH_EVERY = timedelta(seconds=60)


def start_session(session: Session, operator: Operator, *, second_factor: bool,
                  ip: str | None = None, user_agent: str | None = None) -> str:
    token = new_token()
    session.add(OperatorSession(token_hash=token_hash(token), operator_id=operator.id,
                                second_factor=second_factor, created_at=now(),
                                last_seen_at=now(), ip=ip, user_agent=(user_agent or "")[:300]))
    session.flush()
    return token


def load_session(session: Session, token: str | None, lifetimes: Lifetimes, *,
                 write: Callable[..., object] | None = None,
                 ) -> tuple[OperatorSession, Operator] | None:
    """The live session of ``token`` and its active operator, or None (ended, expired, or
    the operator disabled: the row is then deleted). The last-seen touch (once a minute)
    and the deletion are statements given to ``write`` (default: ``session.execute``; the
    console's pages give them to web.database.bookkeeping, so that a page is answered while
    a long import holds SQLite's write lock)."""
    write = write or session.execute
    if not token:
        return None
    row = session.scalar(select(OperatorSession).where(
        OperatorSession.token_hash == token_hash(token)))
    if row is None:
        return None
    operator = session.get(Operator, row.operator_id)
    moment = now()
    if (operator is None or not operator.active or moment - row.last_seen_at > lifetimes.idle
            or moment - row.created_at > lifetimes.absolute):
        session.expunge(row)
        write(delete(OperatorSession).where(OperatorSession.id == row.id))
        return None
    if moment - row.last_seen_at > TOUCH_EVERY:
        write(update(OperatorSession).where(OperatorSession.id == row.id)
              .values(last_seen_at=moment).execution_options(synchronize_session=False))
        set_committed_value(row, "last_seen_at", moment)
    return row, operator


def pass_second_factor(session: Session, row: OperatorSession) -> str:
    """After the TOTP code: the session gets a new token (no fixation) with both factors."""
    token = new_token()
    row.token_hash = token_hash(token)
    row.second_factor = True
    session.flush()
    return token


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(OperatorSession).where(
            OperatorSession.token_hash == token_hash(token)))


def end_sessions(session: Session, operator: Operator) -> None:
    session.execute(delete(OperatorSession).where(OperatorSession.operator_id == operator.id))
