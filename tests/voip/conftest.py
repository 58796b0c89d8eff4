"""VoIP fixtures: lines (a customer's VoIP service with its password), a small tariff,
``voip_auth`` (log in to the VoIP zone, flaskr's ``auth`` style), and the page and call-record
helpers test modules ask for by name (``flash_texts``, ``confirm_key``, ``cheap_hash``,
``cdr_row``, ``import_calls``)."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from argon2 import PasswordHasher

from billing.models import Contract, Service
from core.clock import today

# Cheap argon2id parameters: verified the same way; a successful login rehashes the
# password with the real parameters (voip.lines.authenticate).
_CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_HASHES: dict[str, str] = {}


def cheap_hash(password: str) -> str:
    if password not in _HASHES:
        _HASHES[password] = _CHEAP.hash(password)
    return _HASHES[password]

TARIFF_CSV = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate
420;Česko – pevné linky;0,4000;0;60/1;21
4206;Česko – mobilní sítě;0,8000;0;60/1;21
4207;Česko – mobilní sítě;0,8000;0;60/1;21
49;Německo – pevné linky;1,0000;0;60/1;21
4915;Německo – mobilní sítě;3,5000;0,5000;60/1;21
"""


@pytest.fixture
def make_line(session, make_customer):
    """A VoIP line: ``make_line("+420601234567", password="voip-pass")`` -> Service."""

    def factory(number: str, password: str = "voip-pass", customer=None, **fields) -> Service:
        customer = customer or make_customer(number=fields.pop("customer_number", None))
        contract = session.query(Contract).filter_by(customer_id=customer.id).first()
        service = Service(
            customer_id=customer.id,
            contract_id=contract.id,
            kind="voip",
            name="Telefonní linka VoIP",
            price=Decimal("50.00"),
            valid_from=fields.pop("valid_from", date(2024, 1, 1)),
            phone_number=number,
            voip_password_hash=cheap_hash(password) if password else None,
            **fields,
        )
        session.add(service)
        session.commit()
        return service

    return factory


@pytest.fixture
def tariff(session):
    from voip.tariff_import import import_tariff_csv

    t = import_tariff_csv(
        session, io.StringIO(TARIFF_CSV), valid_from=today() - timedelta(days=30),
        name="Test", actor="test",
    )
    session.commit()
    return t


class VoipAuth:
    """Logging in to the VoIP zone as a test does it; the test's ``client`` unless another
    one is given."""

    def __init__(self, client):
        self._client = client

    def login(self, suffix: str, password: str, number: str | None = None, client=None, **kw):
        data = {"suffix": suffix, "password": password}
        if number is not None:
            data["number"] = number
        return (client or self._client).post("/voip/login", data=data, **kw)


@pytest.fixture
def voip_auth(client):
    return VoipAuth(client)


def _flash_texts(response) -> list[str]:
    return re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', response.get_data(as_text=True))


@pytest.fixture
def flash_texts():
    """``flash_texts(response)``: the flashed messages on the page."""
    return _flash_texts


def _confirm_key(html: str) -> str:
    m = re.search(r'name="request_key" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="request_key" name="request_key" type="hidden" value="([^"]+)"', html
    )
    assert m, "no request key in the confirmation"
    return m.group(1)


@pytest.fixture
def confirm_key():
    """``confirm_key(html)``: the one-time key of the top-up confirmation form."""
    return _confirm_key


@pytest.fixture(name="cheap_hash")
def cheap_hash_fixture():
    """``cheap_hash(password)``: a VoIP password hash with cheap argon2id parameters."""
    return cheap_hash


def _cdr_row(uid: str, src: str, dst: str, start: str, billsec: int, disposition: str = "ANSWERED") -> str:
    """One Asterisk Master.csv line (loguniqueid layout, 17 columns, local Prague time)."""
    from datetime import datetime as dt

    begin = dt.fromisoformat(start)
    stop = begin + timedelta(seconds=billsec + 5)
    cells = ["", src, dst, "from-internal", f'"Test" <{src}>', f"PJSIP/{src}-0001", "PJSIP/trunk-0001",
             "Dial", f"PJSIP/{dst}@trunk", start, start if billsec else "", f"{stop:%Y-%m-%d %H:%M:%S}",
             str(billsec + 5), str(billsec), disposition, "DOCUMENTATION", uid]
    return ",".join(f'"{c}"' for c in cells) + "\n"


@pytest.fixture
def cdr_row():
    """``cdr_row(uid, src, dst, start, billsec[, disposition])``: one Asterisk CDR line."""
    return _cdr_row


def _import_calls(session, rows: list[str]):
    from voip.cdr import import_cdr

    result = import_cdr(session, io.StringIO("".join(rows)), actor="test")
    session.commit()
    return result


@pytest.fixture
def import_calls():
    """``import_calls(session, rows)``: import CDR lines and commit."""
    return _import_calls
