"""The on-screen warning: recognising the customer (source IP, trusted X-Forwarded-For,
login), the acknowledgement ("Beru na vědomí") with its audit event and router action, the
redirect of foreign-Host traffic, and the client-zone banner with its countdown."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.models import AuditEvent
from core.clock import now, today
from enforcement import acknowledge as ack
from enforcement import cases
from enforcement.config import Policy
from enforcement.models import EnforcementCase, RouterAction
from enforcement.warning import client_ip

NBSP = "\u00a0"
IP = "10.30.0.7"
SUPPLIER = Supplier()


def czech_date(d: date) -> str:
    return f"{d.day}.{NBSP}{d.month}.{NBSP}{d.year}"


def overdue_invoice(session, customer, amount="450.00", days_overdue=20):
    issued = today() - timedelta(days=days_overdue + 14)
    invoice = issue_invoice(
        session,
        customer,
        [LineInput("Internet 100", Decimal("1"), Decimal(amount), unit="měs.")],
        SUPPLIER,
        IssueOptions(kind="regular", issue_date=issued, due_date=issued + timedelta(days=14)),
    )
    session.commit()
    return invoice


def set_state(session, customer, state: str, **fields) -> EnforcementCase:
    """Put the case into ``state`` the way the sweep would (through cases.transition)."""
    case = cases.get_case(session, customer.id)
    cases.transition(session, case, state, actor="system")
    if state == "warned":
        case.warned_at = now()
    for key, value in fields.items():
        setattr(case, key, value)
    session.commit()
    return case


def counts(session, customer_id: int) -> tuple[int, int]:
    session.rollback()  # a fresh snapshot: the app committed in its own session
    audits = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.customer_id == customer_id, AuditEvent.action == "enforcement.acknowledged"
        )
    )
    actions = session.scalar(
        select(func.count())
        .select_from(RouterAction)
        .where(RouterAction.customer_id == customer_id)
    )
    return audits, actions


def reload_case(session, customer) -> EnforcementCase:
    session.rollback()  # a fresh snapshot: the app committed in its own session
    return session.get(EnforcementCase, customer.id)


@pytest.fixture
def jana(session, make_customer):
    customer = make_customer(number="4101", internet_ip=IP)
    overdue_invoice(session, customer)
    return customer


@pytest.fixture
def warned(session, jana):
    set_state(session, jana, "warned")
    return jana


def from_ip(ip: str, **headers):
    return {"environ_base": {"REMOTE_ADDR": ip}, "headers": headers}


# -- recognising the customer ----------------------------------------------------------------


def test_customer_for_ip_matches_addresses_and_prefixes(session, make_customer):
    one = make_customer(number="4201", internet_ip="10.40.0.9")
    net = make_customer(number="4202", internet_ip="10.41.0.0/24")
    small = make_customer(number="4203", internet_ip="10.41.0.8/29")
    host32 = make_customer(number="4204", internet_ip="10.42.0.1/32")
    v6 = make_customer(number="4205", internet_ip="2001:db8:7::/48")
    assert ack.customer_for_ip(session, "10.40.0.9") == one.id
    assert ack.customer_for_ip(session, "10.41.0.200") == net.id
    assert ack.customer_for_ip(session, "10.41.0.12") == small.id  # the most specific prefix
    assert ack.customer_for_ip(session, "10.42.0.1") == host32.id
    assert ack.customer_for_ip(session, "2001:db8:7:1::5") == v6.id
    assert ack.customer_for_ip(session, "::ffff:10.40.0.9") == one.id  # dual-stack socket
    for nobody in ("10.40.0.10", "192.0.2.1", "not-an-ip", "", None):
        assert ack.customer_for_ip(session, nobody) is None


def test_client_ip_believes_forwarded_for_only_from_trusted_proxies():
    trusted = ("10.0.0.1", "10.9.0.0/16")
    # no proxy, or a spoofed header from an untrusted peer: the TCP peer
    assert client_ip("198.51.100.7", None, trusted) == "198.51.100.7"
    assert client_ip("198.51.100.7", "10.30.0.7", trusted) == "198.51.100.7"
    # one trusted proxy: the address it appended
    assert client_ip("10.0.0.1", "10.30.0.7", trusted) == "10.30.0.7"
    # the client prepended a lie; the proxy appended the truth: the right-most untrusted wins
    assert client_ip("10.0.0.1", "10.30.0.7, 198.51.100.7", trusted) == "198.51.100.7"
    # two trusted hops
    assert client_ip("10.0.0.1", "10.30.0.7, 10.9.3.4", trusted) == "10.30.0.7"
    # a trusted hop wrote garbage: nobody is recognised
    assert client_ip("10.0.0.1", "10.30.0.7, bogus", trusted) is None
    # no proxies configured: the header is never believed
    assert client_ip("10.0.0.1", "10.30.0.7", ()) == "10.0.0.1"
    assert client_ip("10.0.0.1", "10.30.0.7", "10.0.0.1, 10.9.0.0/16") == "10.30.0.7"


def test_warning_page_recognises_the_customer_by_source_ip(client, warned):
    r = client.get("/warning", **from_ip(IP))
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    assert "Upozornění na neuhrazené faktury" in html
    assert f"Dluh po splatnosti: 450,00{NBSP}Kč" in html
    assert "4101" in html
    assert 'class="qr-platba"' in html  # QR Platba of the open invoice
    assert "Beru na vědomí" in html
    assert 'action="/warning/acknowledge"' in html


def test_customer_recognised_by_address_reads_the_notice_in_their_language(
    client, session, warned
):
    warned.language = "en"
    session.commit()
    html = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
    assert "Overdue debt: CZK" in html and "Upozornění" not in html
    client.post("/language", data={"lang": "cs", "next": "/warning"})  # this browser's choice
    html = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
    assert f"Dluh po splatnosti: 450,00{NBSP}Kč" in html


def test_forwarded_for_from_a_trusted_proxy_recognises_the_customer(app, client, warned):
    app.config["ENFORCEMENT_TRUSTED_PROXIES"] = ("10.0.0.1",)
    r = client.get("/warning", **from_ip("10.0.0.1", **{"X-Forwarded-For": IP}))
    assert "Beru na vědomí" in r.get_data(as_text=True)


def test_spoofed_forwarded_for_is_ignored(app, client, session, warned):
    app.config["ENFORCEMENT_TRUSTED_PROXIES"] = ("10.0.0.1",)
    # from an untrusted peer
    r = client.get("/warning", **from_ip("198.51.100.7", **{"X-Forwarded-For": IP}))
    html = r.get_data(as_text=True)
    assert "Beru na vědomí" not in html and "nepodařilo rozpoznat" in html
    # through the trusted proxy, but prepended by the client
    r = client.get("/warning", **from_ip("10.0.0.1", **{"X-Forwarded-For": f"{IP}, 198.51.100.7"}))
    assert "Beru na vědomí" not in r.get_data(as_text=True)
    # and an acknowledgement with a spoofed header does nothing
    r = client.post("/warning/acknowledge", **from_ip("198.51.100.7", **{"X-Forwarded-For": IP}))
    assert r.status_code == 403
    assert reload_case(session, warned).state == "warned"
    assert counts(session, warned.id) == (0, 0)


def test_warning_page_recognises_the_logged_in_customer(auth, client, session, make_customer):
    petr = make_customer(number="4102", password="secret-pass")  # no IP of 127.0.0.1
    overdue_invoice(session, petr, amount="300.00")
    set_state(session, petr, "warned")
    assert "nepodařilo rozpoznat" in client.get("/warning").get_data(as_text=True)
    assert auth.login("4102", "secret-pass").status_code == 302
    html = client.get("/warning").get_data(as_text=True)
    assert "Beru na vědomí" in html and f"300,00{NBSP}Kč" in html


def test_unknown_visitor_is_asked_to_log_in(client, warned):
    r = client.get("/warning", **from_ip("192.0.2.50"))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    assert "Vaše připojení se nám nepodařilo rozpoznat" in html
    assert 'href="/login?next=/warning"' in html
    assert "4101" not in html and "Beru na vědomí" not in html


# -- acknowledging ---------------------------------------------------------------------------


def test_acknowledging_records_who_when_and_where_and_queues_the_list_removal(
    client, session, warned
):
    before = now()
    r = client.post("/warning/acknowledge", **from_ip(IP))
    assert r.status_code == 303 and r.headers["Location"].endswith("/warning")
    assert r.headers["Cache-Control"] == "no-store"

    case = reload_case(session, warned)
    due = today() + timedelta(days=10)
    assert case.state == "acknowledged"
    assert case.acknowledged_ip == IP
    assert case.acknowledged_by == f"ip:{IP}"
    assert (
        before <= case.acknowledged_at.replace(tzinfo=case.acknowledged_at.tzinfo or UTC) <= now()
    )
    assert case.disconnect_due == due

    audit = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "enforcement.acknowledged")
    ).one()
    assert (audit.customer_id, audit.actor, audit.ip) == (warned.id, f"ip:{IP}", IP)
    assert (audit.old_value, audit.new_value) == ("warned", "acknowledged")

    action = session.scalars(select(RouterAction)).one()
    assert (action.kind, action.list_name, action.address, action.reason, action.status) == (
        "list_remove",
        "warned",
        IP,
        "ack",
        "pending",
    )

    html = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
    assert "Děkujeme. Zaznamenali jsme" in html
    assert f"bude pozastaveno {czech_date(due)}" in html
    assert "Zbývá 10 dní" in html
    assert "Beru na vědomí" not in html


def test_acknowledging_by_login_records_the_customer(auth, client, session, warned):
    auth.login("4101", "secret-pass")
    client.post("/warning/acknowledge", **from_ip("192.0.2.77"))
    case = reload_case(session, warned)
    assert case.acknowledged_by == "customer:4101"
    assert case.acknowledged_ip == "192.0.2.77"


def test_disconnect_day_is_the_prague_calendar_day_of_the_acknowledgement(session, warned):
    # 23:30 UTC on 10 March is 00:30 on 11 March in Prague
    case = ack.acknowledge(
        session,
        warned.id,
        ip=IP,
        actor="ip:x",
        policy=Policy(disconnect_days=10),
        at=datetime(2026, 3, 10, 23, 30, tzinfo=UTC),
    )
    assert case.disconnect_due == date(2026, 3, 21)


def test_acknowledging_needs_a_csrf_token(auth, app_config, session, warned):
    from app import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    try:
        client = app.test_client()
        r = client.post("/warning/acknowledge", **from_ip(IP))
        assert r.status_code == 400
        assert reload_case(session, warned).state == "warned"
        assert counts(session, warned.id) == (0, 0)

        page = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
        r = client.post(
            "/warning/acknowledge",
            data={"csrf_token": auth.csrf_token(page), "customer_number": "4101"},
            **from_ip(IP),
        )
        assert r.status_code == 303
        assert reload_case(session, warned).state == "acknowledged"
    finally:
        app.extensions["ispzone.engine"].dispose()


def test_looking_at_the_warning_changes_nothing(client, session, warned):
    for _ in range(3):
        assert client.get("/warning", **from_ip(IP)).status_code == 200
        assert client.head("/warning", **from_ip(IP)).status_code == 200
    assert reload_case(session, warned).state == "warned"
    assert counts(session, warned.id) == (0, 0)


def test_second_acknowledgement_changes_nothing(client, session, warned):
    client.post("/warning/acknowledge", **from_ip(IP))
    first = reload_case(session, warned)
    stamp, due = first.acknowledged_at, first.disconnect_due
    r = client.post("/warning/acknowledge", **from_ip(IP))
    assert r.status_code == 303
    again = reload_case(session, warned)
    assert (again.state, again.acknowledged_at, again.disconnect_due) == (
        "acknowledged",
        stamp,
        due,
    )
    assert counts(session, warned.id) == (1, 1)  # one audit event, one router action
    # the domain function is idempotent too
    same = ack.acknowledge(session, warned.id, ip="1.2.3.4", actor="x", policy=Policy())
    assert same.acknowledged_ip == IP and same.disconnect_due == due


@pytest.mark.parametrize("state", ["ok", "reminded", "disconnected"])
def test_a_customer_who_is_not_warned_cannot_acknowledge(client, session, jana, state):
    if state != "ok":
        set_state(session, jana, state)
    r = client.post("/warning/acknowledge", **from_ip(IP))
    assert r.status_code == 303
    case = reload_case(session, jana)
    assert case is None or case.state == state
    assert counts(session, jana.id) == (0, 0)
    with pytest.raises(cases.CaseError):
        ack.acknowledge(session, jana.id, ip=IP, actor="x", policy=Policy())
    session.rollback()
    html = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
    assert "Beru na vědomí" not in html
    if state == "disconnected":
        assert "Vaše připojení je pozastaveno" in html
        assert "Variabilní symbol" in html and 'class="qr-platba"' in html
    else:
        assert "Není co potvrzovat" in html and "qr-platba" not in html


def test_the_confirmed_notice_must_belong_to_the_recognised_customer(client, session, warned):
    r = client.post("/warning/acknowledge", data={"customer_number": "9999"}, **from_ip(IP))
    assert r.status_code == 303
    assert reload_case(session, warned).state == "warned"
    html = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
    assert "patří k jinému účtu" in html


def test_acknowledged_customer_sees_their_date(client, session, warned):
    ack.acknowledge(
        session, warned.id, ip=IP, actor="ip:x", policy=Policy(), at=now() - timedelta(days=8)
    )
    session.commit()
    html = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
    due = today() + timedelta(days=2)
    assert "Upozornění jste vzali na vědomí" in html
    assert czech_date(due) in html and "Zbývají 2 dny" in html


# -- traffic redirected by the router --------------------------------------------------------


def test_foreign_host_is_redirected_to_our_warning_page(app, client):
    app.config["PUBLIC_URL"] = "https://zona.example.net"
    for path in ("/", "/news/today.html?id=5", "/favicon.ico"):
        r = client.get(
            path, headers={"Host": "www.seznam.cz"}, **{"environ_base": {"REMOTE_ADDR": IP}}
        )
        assert r.status_code == 302, path
        assert r.headers["Location"] == "https://zona.example.net/warning"
        assert r.headers["Cache-Control"] == "no-store"
    # a captive-portal probe from a phone
    r = client.get("/generate_204", headers={"Host": "connectivitycheck.gstatic.com"})
    assert r.status_code == 302
    # our own names are served normally
    for host in (
        "zona.example.net",
        "zona.example.net:443",
        "localhost",
        "127.0.0.1:8000",
        "[::1]:8000",
    ):
        r = client.get("/login", headers={"Host": host})
        assert r.status_code == 200, host
    # machines that call us by another name are never redirected
    assert client.get("/healthz", headers={"Host": "10.0.0.5:8000"}).status_code == 200


@pytest.fixture
def app_without_public_url(app_config):
    """Only tests and development may run without PUBLIC_URL (production refuses to)."""
    from app import create_app

    app = create_app({**app_config, "PUBLIC_URL": None})
    yield app
    app.extensions["ispzone.engine"].dispose()


def test_capture_is_off_without_known_own_hosts_or_when_switched_off(app_without_public_url):
    app = app_without_public_url
    client = app.test_client()
    assert not app.config.get("PUBLIC_URL") and not app.config.get("SERVER_NAME")
    assert client.get("/login", headers={"Host": "www.seznam.cz"}).status_code == 200
    app.config["ENFORCEMENT_OWN_HOSTS"] = ("zona.local",)
    r = client.get("/anything", headers={"Host": "www.seznam.cz"})
    assert r.status_code == 302 and r.headers["Location"] == "http://zona.local/warning"
    app.config["ENFORCEMENT_CAPTURE_FOREIGN_HOSTS"] = False
    # issue 13: not captured, a host that is not ours is refused (web.security), not served
    assert client.get("/login", headers={"Host": "www.seznam.cz"}).status_code == 400
    assert client.get("/login", headers={"Host": "zona.local"}).status_code == 200


# -- the client-zone banner ------------------------------------------------------------------


def banner(html: str) -> str | None:
    m = re.search(r'<aside class="enforcement-banner.*?</aside>', html, re.S)
    return m.group(0) if m else None


@pytest.mark.parametrize("path", ["/info", "/invoices", "/services", "/payments"])
def test_banner_for_a_warned_customer_links_to_the_notice(auth, client, warned, path):
    auth.login("4101", "secret-pass")
    html = client.get(path).get_data(as_text=True)
    b = banner(html)
    assert b, f"no banner on {path}"
    assert f"Dluh po splatnosti: 450,00{NBSP}Kč" in b
    assert 'href="/warning"' in b and "Přečíst a potvrdit upozornění" in b


def test_banner_counts_down_to_the_disconnection_in_czech_and_english(auth, client, session, warned):
    ack.acknowledge(
        session, warned.id, ip=IP, actor="ip:x", policy=Policy(), at=now() - timedelta(days=9)
    )
    session.commit()
    due = today() + timedelta(days=1)
    auth.login("4101", "secret-pass")
    b = banner(client.get("/info").get_data(as_text=True))
    assert f"bude pozastaveno {czech_date(due)}" in b
    assert "Zbývá 1 den" in b and 'data-days-left="1"' in b
    client.post("/language", data={"lang": "en", "next": "/info"})
    b = banner(client.get("/invoices").get_data(as_text=True))
    assert "your connection will be suspended on " + due.strftime("%d %b %Y").lstrip("0") in b
    assert "1 day left" in b and f"Overdue debt: CZK{NBSP}450.00" in b


def test_banner_for_a_disconnected_customer(auth, client, session, jana):
    set_state(session, jana, "disconnected")
    auth.login("4101", "secret-pass")
    b = banner(client.get("/info").get_data(as_text=True))
    assert "pozastaveno" in b and "obnovíme automaticky" in b and 'href="/warning"' in b


def test_no_banner_in_good_standing_and_one_small_query(auth, app, client, session, make_customer):
    make_customer(number="4103", password="secret-pass", internet_ip="10.30.0.8")
    auth.login("4103", "secret-pass")
    seen: list[str] = []
    engine = app.extensions["ispzone.engine"]

    def count(conn, cursor, statement, *args):
        if "enforcement_case" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        html = client.get("/info").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert banner(html) is None
    assert len(seen) == 1, seen
    # and none at all for a visitor who is not logged in
    client.post("/logout")
    seen.clear()
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get("/login")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert seen == []


def test_warning_info_lists_open_invoices_with_payment_details(session, warned):
    second = overdue_invoice(session, warned, amount="100.00", days_overdue=-5)  # not yet due
    info = ack.warning_info(session, warned.id, today())
    assert info.state == "warned" and info.customer_number == "4101"
    assert info.overdue_debt == Decimal("450.00")
    assert info.open_total == Decimal("450.00") + second.total
    assert [i.overdue for i in info.invoices] == [True, False]
    first = info.invoices[0]
    assert first.variable_symbol and first.iban == SUPPLIER.iban
    assert first.spayd.startswith("SPD*1.0*") and "AM:450.00" in first.spayd
    assert info.disconnect_due is None and info.days_left is None


def test_a_date_set_while_warned_is_shown_too(auth, client, session, jana):
    """With ENFORCEMENT_DISCONNECT_UNACKNOWLEDGED_DAYS the sweep may fix a date already."""
    due = today() + timedelta(days=5)
    set_state(session, jana, "warned", disconnect_due=due)
    html = client.get("/warning", **from_ip(IP)).get_data(as_text=True)
    assert "Beru na vědomí" in html and f"bude pozastaveno {czech_date(due)}" in html
    auth.login("4101", "secret-pass")
    b = banner(client.get("/info").get_data(as_text=True))
    assert czech_date(due) in b and "Přečíst a potvrdit upozornění" in b
