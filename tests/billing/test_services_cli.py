"""``ispzone services add|change|end|list|set-pppoe`` and ``ispzone voip set-password``:
through the CLI door, audited as the operator (``--as``), refusals change nothing."""

from __future__ import annotations

import re

from sqlalchemy import select

from billing.models import AuditEvent, Service
from core.passwords import verify_password


def invoke(app, *args, code: int = 0, stdin: str | None = None, env=None) -> str:
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args), input=stdin, env=env)
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


AS = {"ISPZONE_AS": "podpora"}


def test_add_internet_with_generated_pppoe_then_change_and_end(app, session, make_customer):
    make_customer(number="6100", name="Tomáš Marek")
    out = invoke(app, "services", "add", "6100", "--kind", "internet", "--name", "Internet 100",
                 "--price", "450,00", "--from", "2026-01-01", "--download", "100000",
                 "--upload", "20000", "--ip", "100.64.10.1", "--router", "kolin-bras1",
                 "--generate-pppoe", env=AS)
    password = re.search(r"PPPoE password: (\S+)", out).group(1)
    assert "PPPoE user name: marek6100" in out
    service = session.scalars(select(Service).where(Service.pppoe_username == "marek6100")).one()
    assert service.pppoe_password == password
    assert "100.64.10.1" in invoke(app, "services", "list", "6100")

    out = invoke(app, "services", "change", "marek6100", "--price", "550", "--from", "2026-03-01",
                 env=AS)
    assert "price (tariff from 2026-03-01)" in out
    out = invoke(app, "services", "set-pppoe", "6100", "--password-stdin",
                 stdin="nove-heslo-123\n", env=AS)
    assert "PPPoE password: set" in out and "nove-heslo-123" not in out
    invoke(app, "services", "end", f"#{service.id}", "--on", "2026-12-31", env=AS)
    session.commit()  # a fresh snapshot: the commands wrote through their own sessions
    session.expire_all()
    assert service.pppoe_password == "nove-heslo-123"
    assert str(service.valid_to) == "2026-12-31"
    actors = set(session.scalars(select(AuditEvent.actor)))
    assert actors == {"operator:podpora"}
    details = " ".join(str(d) for d in session.scalars(select(AuditEvent.details)))
    assert password not in details and "nove-heslo-123" not in details


def test_refusals_change_nothing(app, session, make_customer):
    make_customer(number="6101", internet_ip="100.64.10.2")
    make_customer(number="6102")
    out = invoke(app, "services", "add", "6102", "--kind", "internet", "--name", "Internet",
                 "--price", "450", "--ip", "100.64.10.2", code=1)
    assert "already assigned" in out and "nothing was changed" in out
    out = invoke(app, "services", "set-pppoe", "6101", "--password-stdin", stdin="short\n", code=1)
    assert "8 to 64 characters" in out
    session.commit()
    session.expire_all()
    assert session.scalar(select(AuditEvent.id)) is None
    assert session.scalars(select(Service)).all()[0].pppoe_password is None


def test_voip_set_password(app, session, make_customer):
    customer = make_customer(number="6103")
    session.add(Service(customer_id=customer.id, contract_id=customer.contracts[0].id,
                        kind="voip", name="VoIP", price=99, valid_from=customer.contracts[0].signed_on,
                        phone_number="+420601555111"))
    session.commit()
    out = invoke(app, "voip", "set-password", "601 555 111", "--generate", env=AS)
    password = out.strip().rsplit(" ", 1)[1]
    session.commit()
    line = session.scalars(select(Service).where(Service.kind == "voip")).one()
    assert verify_password(line.voip_password_hash, password)
    event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor) == ("voip.password", "operator:podpora")
    assert password not in event.details
