"""The audit trail page: every event with its actor; filters by actor, action, customer and
period; pages; only operators."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from billing.audit_trail import AuditFilter, audit_page
from core import audit
from core.clock import PRAGUE, today


def _events(session, make_customer):
    a = make_customer(number="4001", name="Jan Novák")
    b = make_customer(number="4002", name="Eva Malá")
    base = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 23:30 in Prague, 30 Nov
    audit.record(session, "operator.login", actor="operator:admin", at=base)
    audit.record(session, "password.changed", actor="customer:4001", customer_id=a.id,
                 at=base + timedelta(hours=1))  # 1 Dec in Prague
    audit.record(session, "payment.assigned", actor="operator:jana", customer_id=b.id,
                 field="status", old_value="unmatched", new_value="matched",
                 details={"tx": 17}, at=base + timedelta(days=2))
    audit.record(session, "operator.created", actor="operator:admin2",
                 at=base + timedelta(days=3))
    for i in range(60):
        audit.record(session, "voip.topup", actor="customer:4002", customer_id=b.id,
                     at=base + timedelta(days=4, minutes=i))
    session.commit()


def test_filters(session, make_customer):
    _events(session, make_customer)

    def actions(**kw):
        page = audit_page(session, AuditFilter(**kw), per_page=100)
        return [(r.actor, r.action) for r in page.rows if r.action != "customer.created"]

    assert actions(actor="admin") == [("operator:admin", "operator.login")]
    assert actions(actor="operator:admin2") == [("operator:admin2", "operator.created")]
    assert actions(actor="4001") == [("customer:4001", "password.changed")]
    assert {a for _, a in actions(action="operator.")} == {"operator.login", "operator.created"}
    assert actions(action="payment.assigned") == [("operator:jana", "payment.assigned")]
    got = actions(customer="4002")
    assert len(got) == 61 and got[-1] == ("operator:jana", "payment.assigned")
    # Prague days: 23:30 UTC on 30 Nov is already 1 Dec in Prague
    day = datetime(2026, 12, 1, tzinfo=PRAGUE).date()
    assert actions(since=day, until=day) == [("customer:4001", "password.changed")]
    assert actions(until=day - timedelta(days=1)) == [("operator:admin", "operator.login")]
    # no LIKE wildcards from the filter
    assert actions(actor="%") == [] and actions(action="%.") == []


def test_the_page_shows_every_actor_and_pages(session, make_customer, console_client):
    _events(session, make_customer)
    client = console_client("readonly")
    html = client.get("/console/audit").get_data(as_text=True)
    assert "Page 1 of 2" in html
    rows = re.findall(r'<td class="actor"><code>([^<]+)</code>', html)
    assert len(rows) == 50 and all(rows)
    html = client.get("/console/audit?page=2").get_data(as_text=True)
    rows = re.findall(r'<td class="actor"><code>([^<]+)</code>', html)
    assert "operator:admin" in rows and "operator:jana" in rows  # the oldest, on page 2
    html = client.get("/console/audit?customer=4002&action=payment.assigned").get_data(as_text=True)
    assert "operator:jana" in html and "unmatched → matched" in html and "Eva Malá" in html
    assert re.findall(r'<td class="actor"><code>([^<]+)</code>', html) == ["operator:jana"]
    html = client.get("/console/audit?sort=at").get_data(as_text=True)
    first = re.findall(r'<td class="actor"><code>([^<]+)</code>', html)
    assert first[0] in ("operator:admin", "system:demo") or first[0].startswith("operator:")
    response = client.get("/console/audit?since=2026-13-01")
    assert response.status_code == 400 and "YYYY-MM-DD" in response.get_data(as_text=True)


def test_console_logins_are_in_the_trail(console_client):
    client = console_client("support")
    html = client.get(f"/console/audit?action=operator.login&since={today().isoformat()}")
    assert f"operator:{client.operator.login}" in html.get_data(as_text=True)
