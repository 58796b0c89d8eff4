"""Call authorization (issue 15 item 9): a client speaking Asterisk's FastAGI protocol over
TCP (Asterisk itself is not packaged for this Debian) asks before each call and gets the
longest call the line's credit buys at the destination's rate (connect fee and increments
included), or a refusal; the same answer over HTTP; and a CDR import never takes the credit
below zero by more than one increment."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import select
import socket
import threading
from decimal import Decimal

import pytest
from sqlalchemy import text

from billing.ledger import postings
from billing.ledger.balances import line_credit
from core.clock import today
from core.db import make_session_factory
from tests.support import PG_URL
from voip.agi import AgiServer
from voip.authorize import MAX_SECONDS, Authorizer, allowance
from voip.rating import Rate

from .conftest import TARIFF_CSV

D = Decimal


@contextlib.contextmanager
def running_server(engine, **options):
    """A FastAGI server over ``engine`` on a free port in a thread of its own; yields its port."""
    server = AgiServer(make_session_factory(engine), Authorizer(), **options)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    async def main():
        listening = await server.start("127.0.0.1", 0)
        holder["server"] = listening
        holder["port"] = listening.sockets[0].getsockname()[1]
        started.set()
        async with listening:
            with contextlib.suppress(asyncio.CancelledError):
                await listening.serve_forever()
        await server.aclose()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield holder["port"]
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        thread.join(5)


@pytest.fixture
def agi_server(engine):
    with running_server(engine) as port:
        yield port


def agi_call(port: int, caller: str, destination: str, script: str = "authorize",
             commands: list | None = None) -> dict:
    """Be Asterisk (res_agi.c, run_agi): send the AGI environment; then, each time the socket
    is readable (poll), read ONE line through a buffered reader (fgets on a stdio stream),
    execute it and answer ``200 result=1``; stop at the end of the stream. As in Asterisk, a
    line already in the reader's buffer while the socket is not readable is not seen: a server
    that sent two commands at once and waits for the answers would hang (here: fail).
    SET VARIABLE also writes a dialplan function: ``ARRAY(A,B)`` = ``"x,y"`` sets A and B.
    Returns the variables set; ``commands`` (a list) collects the command lines."""
    env = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:{port}/{script}",
        "agi_channel: PJSIP/line-00000001",
        "agi_language: cs",
        "agi_type: PJSIP",
        "agi_uniqueid: 1733500000.1",
        f"agi_callerid: {caller}",
        "agi_calleridname: Test",
        "agi_context: from-internal",
        f"agi_extension: {destination}",
        "agi_priority: 2",
        f"agi_arg_1: {destination}",
        f"agi_arg_2: {caller}",
    ]
    variables = {}
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for line in env:  # one write per line, as setup_env() does
            sock.sendall((line + "\n").encode())
        sock.sendall(b"\n")
        stream = sock.makefile("rb")
        while True:
            readable, _, _ = select.select([sock], [], [], 5)
            assert readable, f"the server waits, but sent nothing more (set so far: {variables})"
            line = stream.readline()
            if not line:
                break  # the end of the stream: AGI() returns, the dialplan goes on
            command = line.decode().strip()
            if commands is not None:
                commands.append(command)
            assert command.startswith("SET VARIABLE "), command
            _, _, name, value = command.split(" ", 3)
            value = value.strip('"')
            if name.startswith("ARRAY(") and name.endswith(")"):
                names = name[len("ARRAY("):-1].split(",")
                values = value.split(",")
                assert len(values) == len(names), command
                variables.update(zip(names, values, strict=True))
            else:
                variables[name] = value
            sock.sendall(b"200 result=1\n")
    return variables


def line_with_credit(session, make_line, number, credit):
    line = make_line(number)
    postings.post_opening_credit(session, line.id, D(credit), customer_id=line.customer_id)
    session.commit()
    return line


# tariff (tests/voip/conftest.py): 420 fixed 0,40/min, 4206 mobile 0,80/min, 4915 German
# mobile 3,50/min + 0,50 connect fee; all 60/1 and 21 % VAT
CASES = [
    # credit, destination, allowed, seconds, reason
    ("10.00", "212 345 678", True, 1240, "ok"),  # 1240 s cost 10,00 Kč; 1241 s 10,01 Kč
    ("0.48", "212 345 678", True, 60, "ok"),  # the first minute costs 0,48 Kč
    ("0.47", "212 345 678", False, 0, "no_credit"),
    ("10.00", "601 234 567", True, 620, "ok"),  # mobile: 0,968 Kč a minute
    ("5.00", "+49 1512 3456789", True, 62, "ok"),  # connect fee 0,50 + 3,50/min, with VAT
    ("4.83", "+49 1512 3456789", False, 0, "no_credit"),  # the first block is 4,84 Kč
    ("1000.00", "212 345 678", True, MAX_SECONDS, "ok"),  # capped at 4 hours
    ("0.00", "212 345 678", False, 0, "no_credit"),
    ("25.00", "+1 212 555 0100", False, 0, "no_rate"),
    ("25.00", "abc", False, 0, "invalid_number"),
    # emergency numbers: free and allowed without credit, whether the price list prices
    # them (the catch-all 420 would) or has no prefix for them at all (+1...: none here)
    ("0.00", "155", True, MAX_SECONDS, "emergency"),
    ("0.00", "+420 112", True, MAX_SECONDS, "emergency"),
    ("0.00", "158", True, MAX_SECONDS, "emergency"),
]


def test_fastagi_client_gets_the_allowance_or_a_refusal(session, make_line, tariff, agi_server):
    for i, (credit, destination, allowed, seconds, reason) in enumerate(CASES):
        number = f"+42060100{i:04d}"
        line_with_credit(session, make_line, number, credit)
        got = agi_call(agi_server, number, destination)
        assert got == {
            "CREDIT_AUTH": "ALLOW" if allowed else "DENY",
            "CREDIT_LIMIT_MS": str(seconds * 1000),
            "CREDIT_SECONDS": str(seconds),
            "CREDIT_REASON": reason,
        }, (credit, destination)
    assert agi_call(agi_server, "+420777000999", "212345678")["CREDIT_REASON"] == "unknown_line"
    assert agi_call(agi_server, "+420601000000", "212345678", script="other") == {
        "CREDIT_AUTH": "DENY", "CREDIT_LIMIT_MS": "0", "CREDIT_SECONDS": "0",
        "CREDIT_REASON": "unknown_script"}


def test_one_command_answers_then_the_server_ends_the_session(session, make_line, tariff,
                                                              agi_server):
    """One round trip after the decision: the four variables in one SET VARIABLE (Asterisk's
    ARRAY function), then the end of the stream (Asterisk answers 200 and leaves AGI())."""
    line_with_credit(session, make_line, "+420601777001", "10.00")
    sent = []
    got = agi_call(agi_server, "+420601777001", "212345678", commands=sent)
    assert sent == ['SET VARIABLE ARRAY(CREDIT_AUTH,CREDIT_LIMIT_MS,CREDIT_SECONDS,CREDIT_REASON) '
                    '"ALLOW,1240000,1240,ok"']
    assert got["CREDIT_SECONDS"] == "1240"


def test_a_changed_price_list_applies_to_the_very_next_call(session, make_line, tariff, agi_server):
    """The server holds the tariff's prefix index, but never a stale one: the statement that
    reads the credit also reads the tariff's version (replaced rates, a newer tariff)."""
    from voip.tariff_import import import_tariff_csv

    line_with_credit(session, make_line, "+420601777002", "10.00")
    assert agi_call(agi_server, "+420601777002", "212345678")["CREDIT_SECONDS"] == "1240"
    # the same tariff replaced: fixed lines now 0,80 Kč/min -> 10,00 Kč buys 620 s
    import_tariff_csv(session, io.StringIO(TARIFF_CSV.replace("420;Česko – pevné linky;0,4000",
                                                             "420;Česko – pevné linky;0,8000")),
                      valid_from=tariff.valid_from, name="Test 2", actor="test", replace=True)
    session.commit()
    assert agi_call(agi_server, "+420601777002", "212345678")["CREDIT_SECONDS"] == "620"
    # a newer tariff valid from today: fixed lines 0,20 Kč/min -> 2 480 s
    import_tariff_csv(session, io.StringIO(TARIFF_CSV.replace("420;Česko – pevné linky;0,4000",
                                                             "420;Česko – pevné linky;0,2000")),
                      valid_from=today(), name="Test 3", actor="test")
    session.commit()
    assert agi_call(agi_server, "+420601777002", "212345678")["CREDIT_SECONDS"] == "2480"


def test_a_broken_database_is_a_refusal_and_the_server_recovers(fresh_engine, caplog):
    """No tables (a database being restored, a wrong schema): every call is refused with
    reason ``error`` and logged; once the database is back, the same server answers again."""
    from core import schema

    with running_server(fresh_engine) as port:
        for _ in range(2):
            assert agi_call(port, "+420601777003", "212345678") == {
                "CREDIT_AUTH": "DENY", "CREDIT_LIMIT_MS": "0", "CREDIT_SECONDS": "0",
                "CREDIT_REASON": "error"}
        assert "AGI authorization failed" in caplog.text
        schema.upgrade(fresh_engine)
        assert agi_call(port, "+420601777003", "212345678")["CREDIT_REASON"] == "unknown_line"


def test_a_session_that_sends_no_complete_environment_is_closed(engine, session, make_line, tariff):
    """A PBX (or anything else) that connects and stalls mid-environment is hung up on after
    the read timeout; the server goes on answering others meanwhile."""
    line_with_credit(session, make_line, "+420601777005", "10.00")
    with running_server(engine, read_timeout=0.4) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=5) as stalled:
        stalled.sendall(b"agi_network: yes\nagi_network_script: authorize\n")
        assert agi_call(port, "+420601777005", "212345678")["CREDIT_SECONDS"] == "1240"
        assert stalled.recv(100) == b""  # the server closed it (within the 5 s timeout above)


def test_asterisks_answer_is_read_and_a_refusal_logged(engine, session, make_line, tariff, caplog):
    """Asterisk's answer to the command is read after the call went on (at the server's next
    wake-up): ``200`` counts as served, anything else is logged."""
    line_with_credit(session, make_line, "+420601777006", "10.00")
    with running_server(engine, read_timeout=0.4) as port:
        for answer in (b"200 result=1\n", b"510 Invalid or unknown command\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as pbx:
                pbx.sendall(b"agi_network: yes\nagi_network_script: authorize\n"
                            b"agi_arg_1: 212345678\nagi_arg_2: +420601777006\n\n")
                stream = pbx.makefile("rb")
                assert stream.readline().startswith(b"SET VARIABLE ARRAY(")
                pbx.sendall(answer)
                assert stream.readline() == b""  # the end of the server's stream
        for _ in range(50):  # the sweep (every 0.1 s here) reads what a new call did not
            if "the answer was refused: b'510 Invalid or unknown command'" in caplog.text:
                break
            threading.Event().wait(0.05)
        refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == ["AGI: the answer was refused: b'510 Invalid or unknown command'"]


@pytest.mark.skipif(PG_URL is None, reason="TEST_DATABASE_URL (PostgreSQL) is not set: the test cuts the server's PostgreSQL connection")
def test_a_cut_database_connection_is_opened_again(session, make_line, tariff, agi_server):
    """A PostgreSQL restart or a network cut under a running server: the call finds its
    connection gone, and is answered on a new one."""
    line_with_credit(session, make_line, "+420601777004", "10.00")
    assert agi_call(agi_server, "+420601777004", "212345678")["CREDIT_SECONDS"] == "1240"
    cut = session.execute(text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE query LIKE '%ispzone_agi_lines%' AND pid <> pg_backend_pid()")).scalar()
    session.commit()
    assert cut >= 1  # (and any other server's left by a test run beside)
    answers = [agi_call(agi_server, "+420601777004", "212345678")["CREDIT_REASON"] for _ in range(3)]
    assert answers == ["ok", "ok", "ok"]


def test_the_allowance_is_the_last_block_the_credit_pays():
    """Against brute force over every second, for increments 60/60, 60/1, 1/1, 30/6."""
    for initial, increment in ((60, 60), (60, 1), (1, 1), (30, 6)):
        rate = Rate("420", "x", D("0.7500"), D("0.2000"), D("21"), initial, increment)
        for credit in (D("0.30"), D("1.16"), D("1.17"), D("7.77"), D("20.00")):
            best = 0
            for s in range(1, 3000):
                if rate.cost(s) <= credit and rate.charged(s) == s:
                    best = s
            assert allowance(rate, credit, 3000) == best, (initial, increment, credit)


def test_the_allowance_solved_equals_the_search_over_blocks():
    """The allowance is solved on the rating's integers (no search): for random prices,
    connect fees, VAT rates, increments, credits and caps it is the last block end the
    credit pays (or the cap), as found by walking the blocks one by one."""
    rng = random.Random(15)
    for _ in range(1500):
        initial, increment = rng.choice([(60, 60), (60, 1), (1, 1), (30, 6), (30, 30), (1, 60)])
        rate = Rate("420", "x", D(rng.randint(0, 400000)).scaleb(-4),
                    D(rng.choice([0, 0, 1, 2000, 5000, 12345])).scaleb(-4),
                    D(rng.choice([0, 10, 12, 15, 21])), initial, increment)
        credit = D(rng.randint(-100, 200000)).scaleb(-2)
        cap = rng.choice([45, 600, 3000, 14400])
        cents, best, end = int(credit * 100), 0, initial
        while cents > 0 and rate.cost_cents(end)[1] <= cents:
            best = min(end, cap)
            if end >= cap:
                break
            end += increment
        assert allowance(rate, credit, cap) == best, (rate, credit, cap)


def test_http_gives_the_same_answer(app, app_config, session, make_line, tariff):
    line_with_credit(session, make_line, "+420601999001", "10.00")
    client = app.test_client()
    assert client.get("/voip/authorize?caller=x&destination=y").status_code == 404  # no token set
    app.config["VOIP_AUTHORIZE_TOKEN"] = "s3cret"
    url = "/voip/authorize?caller=%2B420601999001&destination=212345678"
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 403
    response = client.get(url, headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    assert response.get_json() == {"allowed": True, "seconds": 1240, "reason": "ok",
                                   "credit": "10.00", "destination": "Česko – pevné linky"}


def test_a_call_over_its_allowance_never_takes_more_than_one_increment_below_zero(
        session, make_line, tariff, cdr_row, import_calls):
    line = line_with_credit(session, make_line, "+420601999002", "1.00")
    # German mobile, 60/1: the PBX should have cut it at 0 s; a 10-minute call costs 42,96
    result = import_calls(session, [cdr_row("u-over-1", "601999002", "004915123456789",
                                            "2026-12-01 10:00:00", 600)])
    # one increment (1 s at 3,50 Kč/min with VAT) = 0,0706 -> 0,08 Kč below zero at most
    assert line_credit(session, line.id) == D("-0.08")
    assert result.waived == D("42.96") - D("1.08") and "not charged" in str(result)
    # a line with enough credit is charged in full as usual
    rich = line_with_credit(session, make_line, "+420601999003", "100.00")
    result = import_calls(session, [cdr_row("u-over-2", "601999003", "004915123456789",
                                            "2026-12-01 10:00:00", 600)])
    assert result.waived == 0 and line_credit(session, rich.id) == D("100.00") - D("42.96")


def test_a_peer_sending_an_endless_line_is_hung_up_on_at_once(engine, session, make_line,
                                                               tariff):
    """Not Asterisk: one line without end (MAX_ENV_LINES counts line ends). The session is
    closed once it holds more than MAX_ENV_BYTES, not buffered (and searched again at every
    read) until the read timeout; the server goes on answering."""
    line_with_credit(session, make_line, "+420601777009", "10.00")
    with running_server(engine, read_timeout=30) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as flood:
            chunk = b"agi_x: " + b"A" * 65536
            with contextlib.suppress(ConnectionError):
                for _ in range(8):  # 512 KiB
                    flood.sendall(chunk)
            try:
                ended = flood.recv(100) == b""  # within 3 s, not the 30 s of the timeout
            except ConnectionError:  # closed with our bytes unread: a reset
                ended = True
            assert ended
        assert agi_call(port, "+420601777009", "212345678")["CREDIT_SECONDS"] == "1240"


def test_an_emergency_call_is_allowed_without_a_price_list_entry_or_any_price_list(
        session, make_line):
    """No tariff valid today at all: every call is refused (no_tariff) but an emergency one."""
    line = line_with_credit(session, make_line, "+420601009999", "0.00")
    authorizer = Authorizer()
    assert authorizer.authorize(session, line.phone_number, "212345678").reason == "no_tariff"
    for number in ("112", "150", "155", "156", "158", "+420155"):
        decision = authorizer.authorize(session, line.phone_number, number)
        assert (decision.allowed, decision.seconds, decision.reason) == (
            True, MAX_SECONDS, "emergency"), number
