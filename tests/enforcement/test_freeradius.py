"""The shipped deploy/freeradius configuration, run by the real FreeRADIUS 3.2 against the
app served on loopback, queried with radclient: answers follow the customer's state and
accounting shows up on the client zone's Data transfer page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import today
from enforcement.models import RadiusSession
from tests.enforcement import freeradius_runner as fr

TOKEN = "e2b-freeradius-token_42"


@pytest.fixture(autouse=True)
def _tools(need):
    need(fr.available(), "freeradius and radclient are not installed (Debian: freeradius, "
                         "freeradius-utils)")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RADIUS_API_TOKEN": TOKEN}


@pytest.fixture
def radius(app):
    with fr.serve_app(app) as url, fr.FreeRadius(url, TOKEN) as server:
        yield server


def pap(user, password="pppoe-pass"):
    return {"User-Name": user, "User-Password": password, "NAS-IP-Address": "127.0.0.1"}


def chap(user, password="pppoe-pass"):
    return {"User-Name": user, "CHAP-Password": password, "NAS-IP-Address": "127.0.0.1"}


def test_shipped_config_passes_the_check(app):
    server = fr.FreeRadius("http://127.0.0.1:9", TOKEN)
    try:
        result = server.check()
    finally:
        server.__exit__(None, None, None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration appears to be OK" in result.stdout


def test_pap_and_chap_accept_a_good_customer(radius, pppoe):
    pppoe("alice", download_kbps=50_000, upload_kbps=10_000)
    for request in (pap("alice"), chap("alice")):
        reply = radius.auth(request)
        assert reply.code == "Access-Accept", radius.log
        assert reply.first("Framed-IP-Address") == "100.64.0.10"
        assert reply.first("Mikrotik-Rate-Limit") == "10000k/50000k"
        assert "Mikrotik-Address-List" not in reply.attrs


def test_wrong_password_unknown_and_ended_are_rejected_without_leaks(radius, pppoe):
    pppoe("bob", state="warned")
    pppoe("gone", ip="100.64.0.11", valid_to=today() - timedelta(days=1))
    for request in (pap("bob", "wrong"), chap("bob", "wrong"), pap("nobody"), pap("gone")):
        reply = radius.auth(request)
        assert reply.code == "Access-Reject", (request, radius.log)
        # attr_filter.access_reject: nothing the app answered before the check failed
        assert not set(reply.attrs) & {"Framed-IP-Address", "Mikrotik-Rate-Limit",
                                       "Mikrotik-Address-List"}


def test_warned_and_disconnected_customers(app, radius, pppoe):
    pppoe("warned1", state="warned", ip="100.64.0.21")
    pppoe("cut1", state="disconnected", ip="100.64.0.22")
    pppoe("acked1", state="acknowledged", ip="100.64.0.23")

    reply = radius.auth(pap("warned1"))
    assert reply.code == "Access-Accept"
    assert reply.first("Mikrotik-Address-List") == "warned"
    assert radius.auth(chap("acked1")).attrs.get("Mikrotik-Address-List") is None

    reply = radius.auth(chap("cut1"))  # walled garden (the default)
    assert reply.code == "Access-Accept"
    assert reply.first("Mikrotik-Address-List") == "blocked"
    assert reply.first("Framed-IP-Address") == "100.64.0.22"

    app.config["RADIUS_BLOCKED_MODE"] = "reject"
    reply = radius.auth(pap("cut1"))
    assert reply.code == "Access-Reject"
    assert reply.first("Reply-Message")
    assert "Framed-IP-Address" not in reply.attrs
    assert radius.auth(pap("warned1")).code == "Access-Accept"


def acct(user, status, session_id="81a00001", down=0, up=0, down_gw=0, up_gw=0, **extra):
    return {
        "User-Name": user, "Acct-Status-Type": status, "Acct-Session-Id": session_id,
        "NAS-IP-Address": "127.0.0.1", "Framed-IP-Address": "100.64.0.10",
        "Acct-Output-Octets": down, "Acct-Input-Octets": up,
        "Acct-Output-Gigawords": down_gw, "Acct-Input-Gigawords": up_gw, **extra,
    }


def test_accounting_shows_up_on_the_traffic_page(auth, client, session, radius, pppoe):
    customer = pppoe("carol")
    steps = [
        acct("carol", "Start"),
        acct("carol", "Interim-Update", down=705_032_704, down_gw=1, up=1_000_000),
        acct("carol", "Interim-Update", down=705_032_704, down_gw=1, up=1_000_000),  # dup
        acct("carol", "Stop", down=705_032_704, down_gw=2, up=1_500_000,
             **{"Acct-Terminate-Cause": "User-Request", "Acct-Session-Time": 3600}),
    ]
    for request in steps:
        assert radius.acct(request).code == "Accounting-Response", radius.log

    auth.login(customer.customer_number, "zone-pass")
    html = client.get("/traffic").get_data(as_text=True)
    totals = re.search(r'<dl class="details totals inline">(.*?)</dl>', html, re.S).group(1)
    # down: 2 * 2**32 + 705 032 704 = 9 294 967 296 bytes; up 1 500 000
    assert re.findall(r"<dd>(?:<strong>)?([^<]*)", totals) == [
        "9,3\u00a0GB", "1,5\u00a0MB", "9,3\u00a0GB"]
    session.rollback()
    row = session.scalars(select(RadiusSession)).one()
    assert row.stopped_at is not None and row.terminate_cause == "User-Request"
    assert (row.bytes_down, row.bytes_up) == (9_294_967_296, 1_500_000)


def test_app_down_means_reject_and_no_accounting_response(app, pppoe):
    """rlm_rest 'fail': nobody gets in, and the NAS keeps the accounting record to retry."""
    pppoe("dave")
    with fr.serve_app(app) as url:
        server = fr.FreeRadius(url, TOKEN).start()
    try:  # the app is gone now, FreeRADIUS is still running
        assert server.auth(pap("dave")).code == "Access-Reject"
        assert server.acct(acct("dave", "Start")).code == ""
    finally:
        server.__exit__(None, None, None)


def test_wrong_token_in_freeradius_lets_nobody_in(app, pppoe):
    pppoe("erin")
    with fr.serve_app(app) as url, fr.FreeRadius(url, "not-the-token") as server:
        assert server.auth(pap("erin")).code == "Access-Reject"
        assert server.acct(acct("erin", "Start")).code == ""


def test_freeradius_refuses_to_start_without_the_app(app):
    port = fr.free_port(fr.socket.SOCK_STREAM)  # nothing listens there
    server = fr.FreeRadius(f"http://127.0.0.1:{port}", TOKEN)
    try:
        with pytest.raises(RuntimeError, match="exited"):
            server.start()
    finally:
        server.__exit__(None, None, None)


def test_radclient_in_parallel_loses_nothing(radius, pppoe):
    for n in range(20):
        pppoe(f"user{n}", ip=f"100.64.1.{n + 1}")
    requests = [pap(f"user{n % 20}") for n in range(200)]
    result = radius.radclient("auth", requests, parallel=50, retries=3, wait=5)
    replies = fr.parse_radclient(result.stdout)
    assert [r.code for r in replies].count("Access-Accept") == 200, result.stderr[-2000:]
