"""The FreeRADIUS rest endpoints over HTTP: who may call them, what authorize answers in
each enforcement state, and what accounting records (totals with gigawords, duplicates,
reordering) as seen on the client zone's Data transfer page."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from billing.models import TrafficDay
from core.clock import today
from enforcement.models import RadiusSession
from enforcement.radius import accounting

TOKEN = "test-radius-token_0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RADIUS_API_TOKEN": TOKEN}


def rest(**attrs) -> dict:
    """A body as rlm_rest sends it."""
    return {
        name: {"type": "integer" if isinstance(v, int) else "string", "value": [v]}
        for name, v in attrs.items()
    }


def authorize(client, user="alice", headers=AUTH, **kwargs):
    return client.post("/radius/authorize", json=rest(**{"User-Name": user}), headers=headers,
                       **kwargs)


def value(body, key):
    return body[key]["value"][0]


# --- who may call -----------------------------------------------------------------------


def test_missing_or_wrong_token_is_401(client, pppoe):
    pppoe()
    assert authorize(client, headers={}).status_code == 401
    assert authorize(client, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert authorize(client, headers={"X-Ispzone-Token": TOKEN[:-1]}).status_code == 401
    assert authorize(client, headers={"X-Ispzone-Token": TOKEN}).status_code == 200
    assert authorize(client).status_code == 200


def test_no_token_configured_refuses_everyone(app, client, pppoe):
    pppoe()
    app.config["RADIUS_API_TOKEN"] = ""
    assert authorize(client, headers={"Authorization": "Bearer "}).status_code == 401
    assert authorize(client, headers={"X-Ispzone-Token": ""}).status_code == 401
    response = client.post("/radius/accounting", json=rest(**{"Acct-Status-Type": "Start"}),
                           headers={"Authorization": "Bearer "})
    assert response.status_code == 401


def test_address_outside_the_allow_list_is_403(app, client, pppoe):
    pppoe()
    outside = {"REMOTE_ADDR": "192.0.2.7"}
    assert authorize(client, environ_base=outside).status_code == 403
    response = client.post("/radius/accounting", json={}, headers=AUTH, environ_base=outside)
    assert response.status_code == 403
    app.config["RADIUS_ALLOWED_CLIENTS"] = "10.0.0.1, 192.0.2.0/28"
    assert authorize(client, environ_base=outside).status_code == 200
    assert authorize(client).status_code == 403  # 127.0.0.1 is no longer listed


def test_endpoints_are_csrf_exempt(database_url, tmp_path, pppoe):
    from app import create_app

    config = {
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
        "WTF_CSRF_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), "RADIUS_API_TOKEN": TOKEN,
    }
    app = create_app(config)
    try:
        pppoe()
        client = app.test_client()
        # CSRF is on: a form post without a token is refused ...
        assert client.post("/login", data={"customer_number": "1"}).status_code == 400
        # ... but FreeRADIUS, which has no session and no token, gets through
        assert authorize(client).status_code == 200
        start = rest(**{"Acct-Status-Type": "Start", "NAS-IP-Address": "10.0.0.1",
                        "Acct-Session-Id": "s1", "User-Name": "alice"})
        assert client.post("/radius/accounting", json=start, headers=AUTH).status_code == 204
    finally:
        app.extensions["ispzone.engine"].dispose()


def test_freeradius_is_never_rate_limited(database_url, tmp_path, pppoe):
    from app import create_app

    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
        "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_DEFAULT": "2/minute",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), "RADIUS_API_TOKEN": TOKEN,
    })
    try:
        pppoe()
        client = app.test_client()
        assert [client.get("/login").status_code for _ in range(3)][-1] == 429  # limits are on
        assert {authorize(client).status_code for _ in range(10)} == {200}
    finally:
        app.extensions["ispzone.engine"].dispose()
        # the limiter is one module-level instance: keep its default limits out of later tests
        from web.extensions import limiter

        limiter.limit_manager.set_default_limits([])


def test_behind_a_proxy_the_reported_address_is_checked(database_url, tmp_path, pppoe):
    """With PROXY_FIX the allow-list sees the address the proxy reports (docs/radius.md)."""
    from app import create_app

    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
        "RATELIMIT_STORAGE_URI": "memory://", "PROXY_FIX": "x_for=1",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), "RADIUS_API_TOKEN": TOKEN,
    })
    try:
        pppoe()
        client = app.test_client()
        assert authorize(client, headers={**AUTH, "X-Forwarded-For": "192.0.2.7"}).status_code == 403
        assert authorize(client, headers={**AUTH, "X-Forwarded-For": "127.0.0.1"}).status_code == 200
    finally:
        app.extensions["ispzone.engine"].dispose()


def test_other_methods_paths_and_oversized_bodies(app, client, pppoe):
    pppoe()
    get = client.get("/radius/authorize", headers=AUTH)
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    assert client.post("/radius/nothing", json={}, headers=AUTH).status_code == 404
    huge = rest(**{"User-Name": "alice", "Filler": "x" * 70_000})
    assert client.post("/radius/authorize", json=huge, headers=AUTH).status_code == 413
    # a router redirecting a warned customer's traffic to us never captures the RADIUS API
    app.config["PUBLIC_URL"] = "https://zona.example.net"
    assert authorize(client, headers={**AUTH, "Host": "example.com"}).status_code == 200


# --- authorize ----------------------------------------------------------------------------


def test_good_customer_gets_password_address_and_rate_limit(client, pppoe):
    pppoe(download_kbps=100_000, upload_kbps=20_000)
    response = authorize(client)
    assert response.status_code == 200
    body = response.get_json()
    assert value(body, "control:Cleartext-Password") == "pppoe-pass"
    assert value(body, "reply:Framed-IP-Address") == "100.64.0.10"
    # rx/tx from the router's side: the customer's upload first, then their download
    assert value(body, "reply:Mikrotik-Rate-Limit") == "20000k/100000k"
    assert "reply:Mikrotik-Address-List" not in body
    assert all(item["do_xlat"] is False for item in body.values())


@pytest.mark.parametrize(
    "state, address_list",
    [("ok", None), ("reminded", None), ("warned", "warned"), ("acknowledged", None),
     ("disconnected", "blocked")],
)
def test_address_list_follows_the_case(client, pppoe, state, address_list):
    pppoe(state=state)
    body = authorize(client).get_json()
    assert value(body, "control:Cleartext-Password") == "pppoe-pass"
    if address_list:
        assert value(body, "reply:Mikrotik-Address-List") == address_list
    else:
        assert "reply:Mikrotik-Address-List" not in body


def test_list_names_come_from_the_enforcement_settings(app, client, pppoe):
    app.config["ENFORCEMENT_LIST_WARNED"] = "dluznici"
    pppoe(state="warned")
    assert value(authorize(client).get_json(), "reply:Mikrotik-Address-List") == "dluznici"


def test_disconnected_is_rejected_in_reject_mode(app, client, pppoe):
    app.config["RADIUS_BLOCKED_MODE"] = "reject"
    pppoe(state="disconnected")
    response = authorize(client)
    assert response.status_code == 401
    body = response.get_json()
    assert "control:Cleartext-Password" not in body
    assert "reply:Framed-IP-Address" not in body
    assert value(body, "reply:Reply-Message")


def test_unknown_ended_or_future_service_is_notfound(client, pppoe):
    pppoe("ended", valid_to=today() - timedelta(days=1), ip="100.64.0.11")
    pppoe("future", valid_from=today() + timedelta(days=1), ip="100.64.0.12")
    pppoe("lastday", valid_to=today(), ip="100.64.0.13")
    assert authorize(client, "nobody").status_code == 404
    assert authorize(client, "ended").status_code == 404
    assert authorize(client, "future").status_code == 404
    assert authorize(client, "lastday").status_code == 200


def test_authorize_is_one_query_and_writes_nothing(app, client, pppoe):
    pppoe(state="warned")
    statements = []
    engine = app.extensions["ispzone.engine"]

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert authorize(client).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    queries = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "PRAGMA"))]
    assert len(queries) == 1, queries
    assert queries[0].lstrip().upper().startswith("SELECT")


def test_malformed_body_is_400(client):
    response = client.post("/radius/authorize", data="not json", headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400


# --- accounting ---------------------------------------------------------------------------


def acct(client, status, session_id="8100001", user="alice", down=0, up=0, down_gw=0,
         up_gw=0, **extra):
    attrs = {
        "Acct-Status-Type": status,
        "NAS-IP-Address": "10.0.0.1",
        "Acct-Session-Id": session_id,
        "User-Name": user,
        "Framed-IP-Address": "100.64.0.10",
        "Acct-Input-Octets": up,
        "Acct-Output-Octets": down,
        "Acct-Input-Gigawords": up_gw,
        "Acct-Output-Gigawords": down_gw,
        **extra,
    }
    return client.post("/radius/accounting", json=rest(**attrs), headers=AUTH)


def traffic_today(session):
    session.rollback()  # end the read snapshot: see what the app committed since
    row = session.scalars(select(TrafficDay).where(TrafficDay.day == today())).first()
    return (row.bytes_down, row.bytes_up) if row else (0, 0)


def test_gigawords_make_64_bit_totals(client, session, pppoe):
    pppoe()
    assert acct(client, "Start").status_code == 204
    # 1 gigaword + 705 032 704 = 5 000 000 000 bytes down; 2**32 - 1 up
    assert acct(client, "Interim-Update", down=705_032_704, down_gw=1,
                up=2**32 - 1).status_code == 204
    assert traffic_today(session) == (5_000_000_000, 2**32 - 1)
    assert acct(client, "Interim-Update", down=705_032_705, down_gw=1, up=0,
                up_gw=1).status_code == 204
    assert traffic_today(session) == (5_000_000_001, 2**32)


def test_duplicate_and_late_interims_are_not_counted_twice(client, session, pppoe):
    pppoe()
    acct(client, "Start")
    acct(client, "Interim-Update", down=3000, up=1000)
    acct(client, "Interim-Update", down=3000, up=1000)  # retransmission
    acct(client, "Interim-Update", down=7000, up=1500)
    acct(client, "Interim-Update", down=5000, up=1200)  # an older one, arriving late
    acct(client, "Start")  # a duplicate Start carries zeros
    assert traffic_today(session) == (7000, 1500)
    acct(client, "Stop", down=9000, up=2000, **{"Acct-Terminate-Cause": "User-Request"})
    acct(client, "Stop", down=9000, up=2000)  # retransmitted Stop
    acct(client, "Interim-Update", down=8000, up=1900)  # lost in the network until now
    assert traffic_today(session) == (9000, 2000)
    row = session.scalars(select(RadiusSession)).one()
    assert row.stopped_at is not None
    assert row.terminate_cause == "User-Request"
    assert (row.bytes_down, row.bytes_up) == (9000, 2000)
    assert row.framed_ip == "100.64.0.10"


def test_lost_start_and_separate_sessions(client, session, pppoe):
    pppoe()
    acct(client, "Interim-Update", session_id="A", down=100, up=10)  # Start never arrived
    acct(client, "Start", session_id="B")
    acct(client, "Interim-Update", session_id="B", down=50, up=5)
    assert traffic_today(session) == (150, 15)
    assert session.scalars(select(RadiusSession).order_by(RadiusSession.id)).all()[0].stopped_at is None


def test_accounting_on_closes_the_nas_sessions(client, session, pppoe):
    pppoe()
    acct(client, "Start", session_id="A")
    response = client.post("/radius/accounting", headers=AUTH, json=rest(**{
        "Acct-Status-Type": "Accounting-On", "NAS-IP-Address": "10.0.0.1"}))
    assert response.status_code == 204
    session.rollback()  # end the read snapshot: see what the app committed since
    row = session.scalars(select(RadiusSession)).one()
    assert row.stopped_at is not None and row.terminate_cause == "NAS-Reboot"


def test_unknown_user_session_is_recorded_without_traffic(client, session):
    assert acct(client, "Interim-Update", user="ghost", down=100).status_code == 204
    assert session.scalars(select(RadiusSession)).one().service_id is None
    assert traffic_today(session) == (0, 0)


def test_unusable_records_are_400(client):
    assert acct(client, "Alive").status_code == 400
    assert acct(client, "Start", session_id="").status_code == 400
    assert acct(client, "Interim-Update", down=2**32).status_code == 400
    response = client.post("/radius/accounting", headers=AUTH, json=rest(**{
        "Acct-Status-Type": "Start", "Acct-Session-Id": "x"}))
    assert response.status_code == 400  # no NAS address


def test_database_down_is_503_so_the_nas_retries(tmp_path):
    from app import create_app

    app = create_app({
        "TESTING": True, "SECRET_KEY": "x", "RATELIMIT_STORAGE_URI": "memory://",
        "DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/none.sqlite3",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), "RADIUS_API_TOKEN": TOKEN,
    })
    client = app.test_client()
    assert acct(client, "Interim-Update", down=1).status_code == 503
    assert authorize(client).status_code == 503
    app.extensions["ispzone.engine"].dispose()


def test_traffic_shows_on_the_data_transfer_page(auth, client, session, pppoe):
    customer = pppoe()
    acct(client, "Start")
    acct(client, "Interim-Update", down=705_032_704, down_gw=1, up=1_500_000)
    acct(client, "Interim-Update", down=705_032_704, down_gw=1, up=1_500_000)
    auth.login(customer.customer_number, "zone-pass")
    html = client.get("/traffic").get_data(as_text=True)
    totals = re.search(r'<dl class="details totals inline">(.*?)</dl>', html, re.S).group(1)
    assert re.findall(r"<dd>(?:<strong>)?([^<]*)", totals) == [
        "5,0\u00a0GB", "1,5\u00a0MB", "5,0\u00a0GB"]


def test_midnight_prague_day(session, pppoe):
    """Growth is booked on the Prague calendar day of the record, not the UTC one."""
    pppoe()
    from datetime import UTC, datetime

    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 00:30 on 23 Nov in Prague
    attrs = {"Acct-Status-Type": "Interim-Update", "NAS-IP-Address": "10.0.0.1",
             "Acct-Session-Id": "m", "User-Name": "alice", "Acct-Output-Octets": "10",
             "Acct-Delay-Time": "0"}
    accounting.record(session, accounting.parse(attrs, received_at=late))
    session.commit()
    day = session.scalars(select(TrafficDay.day)).one()
    assert day.isoformat() == "2026-11-23"


def test_parallel_duplicates_count_once(engine, session, pppoe):
    """Copies of one record handled at the same time by several app workers. A worker that
    fails on a database conflict (SQLite: "database is locked") answers 503 and the NAS
    sends the record again; that retry is played here too."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.db import make_session_factory

    pppoe()
    factory = make_session_factory(engine)
    base = {"NAS-IP-Address": "10.0.0.1", "Acct-Session-Id": "p", "User-Name": "alice"}
    errors = []

    def send(n):
        attrs = {**base, "Acct-Status-Type": "Interim-Update",
                 "Acct-Output-Octets": str(1000 * n), "Acct-Input-Octets": str(10 * n)}
        for _retry in range(100):
            s = factory()
            try:
                accounting.record(s, accounting.parse(attrs))
                s.commit()
                return
            except SQLAlchemyError:
                s.rollback()
            finally:
                s.close()
        errors.append(n)

    for n in range(1, 6):
        threads = [threading.Thread(target=send, args=(n,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert traffic_today(session) == (5000, 50)
