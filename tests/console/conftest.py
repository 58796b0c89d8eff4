"""Fixtures of the console's tests: ``operator(role, ...)`` makes an operator,
``console_client(role="admin")`` is a test client logged in to the console as an operator
of that role (second factor done), ``console_login(client, login, password)`` logs a
client in, ``totp_code(operator, offset=0)`` is the operator's current code, ``browser()`` a new client
reading English."""

from __future__ import annotations

import re
from itertools import count

import pyotp
import pytest

from billing.models import Operator
from core.clock import now
from core.passwords import hash_password

PASSWORD = "operator-pass-1"
_HASHES: dict[str, str] = {}


def _hash(password: str) -> str:
    if password not in _HASHES:  # argon2id is slow on purpose: once per run
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@pytest.fixture
def operator(session):
    """``operator(role="admin", login=None, password=PASSWORD, totp=False, name="")``: a new
    operator (committed). ``totp=True`` gives them an enrolled second factor."""
    numbers = count(1)

    def make(role: str = "admin", login: str | None = None, password: str = PASSWORD,
             totp: bool = False, name: str = "", email: str | None = None) -> Operator:
        login = login or f"{role}{next(numbers)}"
        op = Operator(login=login, role=role, name=name or login.title(), email=email,
                      password_hash=_hash(password), totp_enabled=totp, created_at=now(),
                      totp_secret=pyotp.random_base32() if totp else None)
        session.add(op)
        session.commit()
        return op

    make.password = PASSWORD
    return make


@pytest.fixture
def totp_code():
    """``totp_code(operator, offset=0)``: the code the operator's app shows now (``offset``
    time steps away)."""
    def code(op: Operator, offset: int = 0) -> str:
        totp = pyotp.TOTP(op.totp_secret)
        return totp.generate_otp(int(now().timestamp()) // 30 + offset)

    return code


def _csrf(html: str) -> str | None:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    return m.group(1) if m else None


@pytest.fixture
def console_login(totp_code):
    """``console_login(client, op, password=PASSWORD)``: log ``client`` in to the console as
    ``op`` (with the TOTP code when they have a second factor); returns the last response."""
    def login(client, op: Operator, password: str = PASSWORD):
        page = client.get("/console/login")
        data = {"login": op.login, "password": password}
        if token := _csrf(page.get_data(as_text=True)):
            data["csrf_token"] = token
        response = client.post("/console/login", data=data)
        if op.totp_enabled and response.status_code == 302 \
                and "/console/login/code" in response.headers["Location"]:
            page = client.get("/console/login/code")
            data = {"code": totp_code(op)}
            if token := _csrf(page.get_data(as_text=True)):
                data["csrf_token"] = token
            response = client.post("/console/login/code", data=data)
        return response

    return login


@pytest.fixture
def browser(app):
    """``browser(application=app)``: a new test client that reads the pages in English (the
    default is Czech), as the tests' assertions do."""
    def make(application=None):
        client = (application or app).test_client()
        client.post("/language", data={"lang": "en"})
        return client

    return make


@pytest.fixture
def console_client(browser, operator, console_login):
    """``console_client(role="admin")``: a new test client logged in to the console as a new
    operator of ``role`` (second factor done); its operator is ``client.operator``."""
    def make(role: str = "admin", **kwargs):
        client = browser()
        op = operator(role, **kwargs)
        response = console_login(client, op)
        assert response.status_code == 302, response.get_data(as_text=True)
        assert client.get("/console/").status_code == 200
        client.operator = op
        return client

    return make
