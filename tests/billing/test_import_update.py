"""``ispzone import`` carries PPPoE passwords, VoIP passwords (hashed), router names and opening
balances, and updates existing customers with ``--update``: the dry run prints what would
change and changes nothing; a bad line changes nothing; credentials imported are the ones
FreeRADIUS's answer accepts."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from billing.ledger import balances
from billing.legacy_import.writer import import_file
from billing.models import (
    AuditEvent,
    Customer,
    Invoice,
    LedgerTransaction,
    Service,
    ServiceAddress,
)
from core.clock import today
from core.passwords import verify_password
from enforcement.radius.authorize import ACCEPT, answer_for


def customer_doc(number="2101", **changes):
    doc = {
        "customer_number": number, "name": "Zdeněk Říha", "street": "Třída Čsl. armády 118",
        "city": "Kolín", "postal_code": "28002", "email": "zdenek.riha@seznam.cz",
        "phone": "777 123 456", "password": "Heslo-z-importu",
        "contracts": [{"number": number, "signed_on": "2021-03-15", "services": [
            {"kind": "internet", "name": "Internet 100", "price": "450.00",
             "valid_from": "2021-03-15", "download_kbps": 100000, "upload_kbps": 20000,
             "pppoe_username": f"riha{number}", "pppoe_password": "stare-heslo-1",
             "router_name": "kolin-bras1", "ips": ["10.30.0.5"]},
            {"kind": "voip", "name": "VoIP Standard", "price": "99", "valid_from": "2022-01-01",
             "phone_number": "601 222 333", "voip_password": "voip-heslo-1",
             "voip_credit": "150.00"}]}],
        "opening_balance": "-320.50", "opening_balance_on": "2024-12-31",
    }
    doc.update(changes)
    return doc


def write(tmp_path, customers, name="customers.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"customers": customers}, ensure_ascii=False), encoding="utf-8")
    return path


def invoke(app, *args, code: int = 0) -> str:
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args), env={"ISPZONE_AS": "migrace"})
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def snapshot(session):
    session.commit()
    session.expire_all()
    return (
        [(c.customer_number, c.email, c.name) for c in session.scalars(select(Customer))],
        [(s.name, s.price, s.pppoe_password, s.router_name, s.voip_password_hash, s.valid_to)
         for s in session.scalars(select(Service).order_by(Service.id))],
        sorted(session.scalars(select(ServiceAddress.address))),
        session.scalar(select(func.count(LedgerTransaction.id))),
        session.scalar(select(func.count(AuditEvent.id))),
        session.scalar(select(func.count(Invoice.id))),
    )


def test_import_carries_credentials_router_and_opening_balances(session, supplier, tmp_path):
    result = import_file(session, write(tmp_path, [
        customer_doc(),
        customer_doc("2102", opening_balance="200", opening_balance_on=None,
                     contracts=[], email="b@example.cz"),
    ]), supplier)
    session.commit()
    assert (result.customers, result.services) == (2, 2)
    internet = session.scalars(select(Service).where(Service.pppoe_username == "riha2101")).one()
    assert (internet.pppoe_password, internet.router_name) == ("stare-heslo-1", "kolin-bras1")
    answer = answer_for(session, "riha2101", today())
    assert answer.outcome == ACCEPT
    assert answer.control == {"Cleartext-Password": "stare-heslo-1"}
    assert answer.reply["Framed-IP-Address"] == "10.30.0.5"
    line = session.scalars(select(Service).where(Service.kind == "voip")).one()
    assert line.voip_password_hash.startswith("$argon2id$")
    assert verify_password(line.voip_password_hash, "voip-heslo-1")
    assert balances.line_credit(session, line.id) == Decimal("150.00")
    debtor, creditor = (session.scalars(select(Customer).where(Customer.customer_number == n)).one()
                        for n in ("2101", "2102"))
    assert balances.customer_balance(session, debtor.id) == Decimal("-320.50")
    assert balances.customer_balance(session, creditor.id) == Decimal("200.00")
    texts = " ".join(str(e.details) + str(e.new_value) for e in session.scalars(select(AuditEvent)))
    assert "stare-heslo-1" not in texts and "voip-heslo-1" not in texts


def test_update_dry_run_changes_nothing_then_update_applies(app, session, supplier, tmp_path):
    import_file(session, write(tmp_path, [customer_doc()]), supplier)
    session.commit()
    before = snapshot(session)
    changed = customer_doc(email="novy@seznam.cz", opening_balance="-320.50")
    changed["contracts"][0]["services"][0].update(
        pppoe_password="nove-heslo-2", router_name="pecky-bras1", price="500.00",
        ips=["10.30.0.6"])
    changed["contracts"][0]["services"].append(
        {"kind": "insurance", "name": "Pojištění", "price": "49", "valid_from": "2024-01-01",
         "paid_until": "2026-12-31"})
    path = write(tmp_path, [changed, customer_doc("2103", contracts=[], opening_balance=None,
                                                   opening_balance_on=None)], "update.json")

    # without --update an existing customer is refused, nothing written
    out = invoke(app, "import", str(path), code=1)
    assert "customer number 2101 already exists in the database" in out
    assert snapshot(session) == before

    out = invoke(app, "import", str(path), "--update", "--dry-run")
    assert "dry run, nothing was written" in out
    for expected in ("2101: email zdenek.riha@seznam.cz -> novy@seznam.cz",
                     "2101: service riha2101: price 450.00 -> 500.00, router_name "
                     "kolin-bras1 -> pecky-bras1, ips 10.30.0.5 -> 10.30.0.6",
                     "2101: service riha2101: PPPoE password set",
                     "2101: new service Pojištění", "2103: new customer"):
        assert expected in out, out
    assert "nove-heslo-2" not in out
    assert snapshot(session) == before

    out = invoke(app, "import", str(path), "--update")
    assert "1 customer, 0 contracts, 1 service, 0 invoices imported; 1 existing customer updated" in out
    session.commit()
    session.expire_all()
    internet = session.scalars(select(Service).where(Service.pppoe_username == "riha2101")).one()
    assert (internet.pppoe_password, internet.router_name, internet.price) == (
        "nove-heslo-2", "pecky-bras1", Decimal("500.00"))
    assert [a.address for a in internet.addresses] == ["10.30.0.6"]
    assert answer_for(session, "riha2101", today()).control == {
        "Cleartext-Password": "nove-heslo-2"}
    riha = session.scalars(select(Customer).where(Customer.customer_number == "2101")).one()
    assert balances.customer_balance(session, riha.id) == Decimal("-320.50")  # not twice
    first_import = before[4]  # the audit events the first import (by import_file) wrote
    actors = set(session.scalars(select(AuditEvent.actor).where(AuditEvent.id > first_import)))
    assert actors == {"operator:migrace"}

    # the same file again: nothing more to do
    again = invoke(app, "import", str(path), "--update", "--dry-run")
    assert "2101:" not in again and "0 existing customers" not in again


def test_a_bad_line_in_an_update_changes_nothing(app, session, supplier, tmp_path):
    import_file(session, write(tmp_path, [customer_doc()]), supplier)
    session.commit()
    before = snapshot(session)
    path = tmp_path / "update.csv"
    path.write_text(
        "record;customer_number;contract_number;name;street;city;postal_code;email;kind;price;"
        "valid_from;pppoe_username;pppoe_password;ips\n"
        "customer;2101;;Zdeněk Říha;Třída Čsl. armády 118;Kolín;28002;jiny@seznam.cz;;;;;;\n"
        "service;2101;2101;Internet 100;;;;;internet;450;2021-03-15;riha2101;nove-heslo-3;10.30.0.5\n"
        "service;2101;2101;Internet 50;;;;;internet;350;2024-01-01;druhy2101;kratke;10.30.0.7\n",
        encoding="utf-8")
    out = invoke(app, "import", str(path), "--update", code=1)
    assert "row 4, field pppoe_password: the password must have 8 to 64 characters" in out
    assert "nothing was imported" in out
    assert snapshot(session) == before
    # a conflict found only while writing (an address another customer has) also names its row
    import_file(session, write(tmp_path, [customer_doc("2104", contracts=[{
        "number": "2104", "signed_on": "2024-01-01", "services": [
            {"kind": "internet", "name": "Internet", "price": "450", "valid_from": "2024-01-01",
             "ips": ["10.30.0.9"]}]}], opening_balance=None, opening_balance_on=None)],
        "other.json"), supplier)
    session.commit()
    before = snapshot(session)
    path.write_text(
        "record;customer_number;contract_number;name;street;city;postal_code;kind;price;"
        "valid_from;pppoe_username;ips\n"
        "customer;2101;;Zdeněk Říha;Třída Čsl. armády 118;Kolín;28002;;;;;\n"
        "service;2101;2101;Internet 100;;;;internet;450;2021-03-15;riha2101;10.30.0.9\n",
        encoding="utf-8")
    out = invoke(app, "import", str(path), "--update", code=1)
    assert "row 3, field ips: IP address 10.30.0.9 is already assigned (customer 2104)" in out
    assert snapshot(session) == before


def test_existing_service_kind_or_start_cannot_change(session, supplier, tmp_path):
    import_file(session, write(tmp_path, [customer_doc()]), supplier)
    session.commit()
    changed = customer_doc()
    changed["contracts"][0]["services"][0]["valid_from"] = "2020-01-01"
    from billing.legacy_import.writer import ImportFileError

    try:
        import_file(session, write(tmp_path, [changed], "u.json"), supplier, update=True)
    except ImportFileError as exc:
        assert "valid_from" in str(exc) and "customer #1" in str(exc)
    else:
        raise AssertionError("the import should have been refused")
    session.rollback()
    assert session.scalars(select(Service).where(Service.pppoe_username == "riha2101")).one(
    ).valid_from == date(2021, 3, 15)
