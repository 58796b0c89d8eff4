"""The console's VoIP pages: lines with credit and cap, a cap set by support (audited with
the operator), a price list shown as new/changed/removed prefixes before anything is
imported, then imported on confirmation; a tampered confirmation refused; CDR upload
deducting calls; top-ups listed."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from billing.models import AuditEvent, Service
from core.clock import today
from tests.voip.test_cdr import add_voip, cdr
from voip.models import CallRecord, Tariff, TariffRate
from voip.tariff_import import import_tariff_csv

OLD = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate
420;Česko – pevné linky;0,4000;0;60/1;21
4206;Česko – mobilní sítě;0,8000;0;60/1;21
4915;Německo – mobilní sítě;3,5000;0,5000;60/1;21
"""
NEW = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate
420;Česko – pevné linky;0,4000;0;60/1;21
4206;Česko – mobilní sítě;0,9000;0;60/1;21
43;Rakousko;1,2000;0;60/1;21
"""


def test_lines_and_a_cap_set_by_support(session, make_customer, console_client):
    line = add_voip(session, make_customer(number="7951"), "+420601111222", credit="150.00")
    readonly = console_client("readonly")
    html = readonly.get("/console/voip").get_data(as_text=True)
    assert "+420 601 111 222" in html and "150,00" in html
    assert readonly.post(f"/console/voip/lines/{line.id}/cap",
                         data={"cap": "900"}).status_code == 403

    support = console_client("support")
    assert support.post(f"/console/voip/lines/{line.id}/cap",
                        data={"cap": "900"}).status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(Service, line.id).topup_cap == Decimal("900.00")
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "voip.topup_cap")).one()
    assert event.actor == f"operator:{support.operator.login}"
    assert support.post(f"/console/voip/lines/{line.id}/cap",
                        data={"cap": "-5"}).status_code in (400, 422)
    session.rollback()
    session.expire_all()
    assert session.get(Service, line.id).topup_cap == Decimal("900.00")


def test_price_list_preview_then_import(session, console_client):
    import_tariff_csv(session, io.StringIO(OLD), valid_from=today() - timedelta(days=30),
                      name="Starý", actor="test")
    session.commit()
    client = console_client("support")
    valid_from = today() + timedelta(days=1)
    preview = client.post("/console/voip/tariffs/preview", data={
        "file": (io.BytesIO(NEW.encode()), "cenik.csv"), "valid_from": valid_from.isoformat(),
        "name": "Nový"}, content_type="multipart/form-data")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    new = html.split('class="new"')[1].split("</table>")[0]
    changed = html.split('class="changed"')[1].split("</table>")[0]
    removed = html.split('class="removed"')[1].split("</table>")[0]
    assert "Rakousko" in new and "4206" in changed and "0.8000" in changed \
        and "0.9000" in changed and "4915" in removed
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count(Tariff.id))) == 1  # nothing imported yet

    form = {name: value for name, value in re.findall(
        r'<input type="hidden" name="(digest|filename|name|valid_from)" value="([^"]*)"', html)}
    text = re.search(r'<textarea name="text" hidden>\n?(.*?)</textarea>', html, re.S).group(1)
    import html as html_lib
    form["text"] = html_lib.unescape(text).replace("\n", "\r\n")  # as a browser sends it

    tampered = dict(form, text=form["text"].replace("0,9000", "0,0100"))
    assert client.post("/console/voip/tariffs/import", data=tampered).status_code == 422
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count(Tariff.id))) == 1

    assert client.post("/console/voip/tariffs/import", data=form).status_code == 302
    session.rollback()
    session.expire_all()
    tariff = session.scalars(select(Tariff).where(Tariff.valid_from == valid_from)).one()
    assert tariff.name == "Nový"
    prices = dict(session.execute(select(TariffRate.prefix, TariffRate.price_per_minute)
                                  .where(TariffRate.tariff_id == tariff.id)).all())
    assert prices == {"420": Decimal("0.4000"), "4206": Decimal("0.9000"),
                      "43": Decimal("1.2000")}
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "voip.tariff_imported").order_by(AuditEvent.id.desc())).first()
    assert event.actor == f"operator:{client.operator.login}"


def test_bad_price_list_is_refused_with_its_row(session, console_client):
    client = console_client("support")
    response = client.post("/console/voip/tariffs/preview", data={
        "file": (io.BytesIO(b"prefix;destination;price_per_minute\nabc;X;1\n"), "bad.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 422 and "row 2" in response.get_data(as_text=True)


def test_cdr_upload_charges_the_calls(session, make_customer, console_client):
    import_tariff_csv(session, io.StringIO(OLD), valid_from=today() - timedelta(days=30),
                      name="Ceník", actor="test")
    line = add_voip(session, make_customer(number="7961"), "+420601222333", credit="100.00")
    day = today() - timedelta(days=2)
    master = cdr("u-1", "601222333", "0049151234567", f"{day} 10:00:00", 60) \
        + cdr("u-2", "601222333", "222333444", f"{day} 11:00:00", 120)
    client = console_client("support")
    response = client.post("/console/voip/cdr", data={
        "file": (io.BytesIO(master.encode()), "Master.csv")}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Master.csv" in response.get_data(as_text=True)
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count(CallRecord.id))
                          .where(CallRecord.service_id == line.id)) == 2
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "voip.cdr_imported")
                            ).one()
    assert event.actor == f"operator:{client.operator.login}"
    html = client.get("/console/voip").get_data(as_text=True)
    assert "100,00" not in html.split("+420 601 222 333")[1].split("</tr>")[0]


def test_topups_are_listed(session, make_customer, supplier, console_client, app):
    from voip.topups import top_up

    line = add_voip(session, make_customer(number="7971"), "+420601333444", credit="0.00")
    top_up(session, line.id, Decimal("200"), "k" * 32, actor="customer:7971", ip=None,
           cap_default=Decimal("2000"), supplier=supplier)
    session.commit()
    html = console_client("readonly").get("/console/voip/topups").get_data(as_text=True)
    row = html.split('class="topups"')[1]
    assert "+420 601 333 444" in row and "200,00" in row and "customer:7971" in row
