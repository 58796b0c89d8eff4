"""The RouterOS driver with the real ``routeros-api`` client against the fake RouterOS server
(real sockets on loopback, the real wire protocol, TCP and TLS)."""

# ruff: noqa: F811  (the fixtures are imported from fake_routeros, then used as arguments)

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from routeros_api import RouterOsApiPool, base_api

from enforcement.drivers import PermanentError, TemporaryError, driver_for
from enforcement.drivers.routeros import RouterOSDriver
from tests.enforcement.fake_routeros import (
    ADDRESS_LIST,
    _Reader,
    decode_length,
    encode_length,
    encode_sentence,
    fake_router,  # noqa: F401
    fake_router_tls,  # noqa: F401
    make_certificates,
    router_config,
)


def action(kind, list_name=None, address=None, username=None, customer_id=1003):
    return SimpleNamespace(
        kind=kind,
        list_name=list_name,
        address=address,
        username=username,
        customer_id=customer_id,
        reason="disconnect",
    )


@pytest.fixture
def driver(fake_router):
    drv = driver_for(router_config(fake_router))
    yield drv
    drv.close()


def sent(router, command):
    return [words for words in router.commands if words[0] == command]


# --- address lists ---------------------------------------------------------------------------


def test_registered_under_its_name(fake_router):
    drv = driver_for(router_config(fake_router))
    assert isinstance(drv, RouterOSDriver) and RouterOSDriver.name == "routeros"


def test_list_add_puts_the_address_in_the_list_with_our_comment(fake_router, driver):
    result = driver.apply(action("list_add", "blocked", "10.20.0.5"))

    assert fake_router.entries("blocked") == {"10.20.0.5"}
    assert fake_router.entry_rows("blocked")[0]["comment"] == "ispzone customer 1003"
    assert "added 10.20.0.5" in result
    [add] = sent(fake_router, ADDRESS_LIST + "/add")
    assert {"=list=blocked", "=address=10.20.0.5", "=comment=ispzone customer 1003"} <= set(add)


def test_list_add_twice_is_success_and_keeps_one_entry(fake_router, driver):
    driver.apply(action("list_add", "blocked", "10.20.0.5"))
    result = driver.apply(action("list_add", "blocked", "10.20.0.5/32"))

    assert "already in blocked" in result
    assert len(fake_router.entry_rows("blocked")) == 1
    assert len(sent(fake_router, ADDRESS_LIST + "/add")) == 2  # the router did say "already"


def test_list_remove_removes_only_that_address(fake_router, driver):
    driver.apply(action("list_add", "blocked", "10.20.0.5"))
    driver.apply(action("list_add", "blocked", "10.20.0.6"))
    driver.apply(action("list_add", "warned", "10.20.0.5"))

    result = driver.apply(action("list_remove", "blocked", "10.20.0.5"))

    assert "removed 10.20.0.5" in result
    assert fake_router.entries("blocked") == {"10.20.0.6"}
    assert fake_router.entries("warned") == {"10.20.0.5"}


def test_list_remove_of_a_missing_address_is_success(fake_router, driver):
    result = driver.apply(action("list_remove", "blocked", "10.20.0.9"))

    assert "not in blocked" in result
    assert sent(fake_router, ADDRESS_LIST + "/remove") == []


def test_an_entry_removed_meanwhile_no_such_item_is_success(fake_router, driver):
    """Between our print and our remove somebody else removed the entry: the router traps
    "no such item", which is the state we wanted."""
    row_id = fake_router.add_entry("blocked", "10.20.0.5", comment="ispzone customer 1003")
    driver.list_addresses("blocked")  # connect
    resource = driver._pool.get_api().get_resource(ADDRESS_LIST)
    fake_router.remove_entry("blocked", "10.20.0.5")

    with driver._lock:
        assert driver._remove(resource, [row_id]) == 0
    assert fake_router.commands[-1][:2] == [ADDRESS_LIST + "/remove", f"=.id={row_id}"]


def test_list_addresses_reads_only_our_entries(fake_router, driver):
    driver.apply(action("list_add", "blocked", "10.20.0.5"))
    driver.apply(action("list_add", "blocked", "10.20.0.6", customer_id=None))
    fake_router.add_entry("blocked", "10.99.0.1", comment="manual")
    fake_router.add_entry("blocked", "10.99.0.2", comment="")
    fake_router.add_entry("blocked", "10.99.0.3", comment="ispzonex")
    fake_router.add_entry("warned", "10.20.0.7", comment="ispzone customer 7")

    assert driver.list_addresses("blocked") == {"10.20.0.5", "10.20.0.6"}
    assert driver.list_addresses("nothing-here") == set()  # the router answers !empty


def test_list_remove_leaves_a_foreign_entry_alone(fake_router, driver):
    fake_router.add_entry("blocked", "10.20.0.5", comment="abuse, keep blocked")

    assert "not in blocked" in driver.apply(action("list_remove", "blocked", "10.20.0.5"))
    assert fake_router.entries("blocked") == {"10.20.0.5"}


def test_unknown_kind_and_incomplete_actions_are_permanent(driver):
    with pytest.raises(PermanentError, match="unknown action kind"):
        driver.apply(action("reboot"))
    with pytest.raises(PermanentError, match="needs list_name and address"):
        driver.apply(action("list_add", "blocked", None))
    with pytest.raises(PermanentError, match="IPv6 address lists are not supported"):
        driver.apply(action("list_add", "blocked", "2001:db8::5"))
    with pytest.raises(PermanentError, match="username or an address"):
        driver.apply(action("kick"))


def test_a_refused_request_is_permanent_with_the_routers_message(fake_router, driver):
    with pytest.raises(PermanentError, match="invalid value of address: not an ip!"):
        driver.apply(action("list_add", "blocked", "not an ip!"))
    # the connection is still good for the next action
    driver.apply(action("list_add", "blocked", "10.20.0.5"))
    assert fake_router.connections_accepted == 1


# --- PPP -------------------------------------------------------------------------------------


def test_kick_removes_the_customers_ppp_session(fake_router, driver):
    fake_router.add_ppp_session("alice", "10.20.0.5")
    fake_router.add_ppp_session("bob", "10.20.0.6")

    result = driver.apply(action("kick", username="alice", address="10.20.0.5"))

    assert result == "removed 1 PPP session(s) of alice"
    assert [s["name"] for s in fake_router.ppp_sessions] == ["bob"]


def test_kick_by_address_when_no_username(fake_router, driver):
    fake_router.add_ppp_session("alice", "10.20.0.5")
    fake_router.add_ppp_session("bob", "10.20.0.6")

    driver.apply(action("kick", address="10.20.0.6"))

    assert [s["name"] for s in fake_router.ppp_sessions] == ["alice"]


def test_kick_without_a_session_is_success(fake_router, driver):
    assert driver.apply(action("kick", username="alice")) == "no active PPP session of alice"
    assert sent(fake_router, "/ppp/active/remove") == []


# --- login, router down, lost connections ----------------------------------------------------


def test_login_failure_is_temporary_with_a_clear_message(fake_router):
    drv = driver_for(router_config(fake_router, secret="wrong"))
    with pytest.raises(
        TemporaryError, match="login failed as 'api': invalid user name or password"
    ):
        drv.apply(action("list_add", "blocked", "10.20.0.5"))
    assert fake_router.entries("blocked") == set()

    fake_router.fail_login = True
    drv = driver_for(router_config(fake_router))
    with pytest.raises(TemporaryError, match="login failed"):
        drv.apply(action("list_add", "blocked", "10.20.0.5"))
    fake_router.fail_login = False  # the operator fixed it: the same driver now works
    drv.apply(action("list_add", "blocked", "10.20.0.5"))
    assert fake_router.entries("blocked") == {"10.20.0.5"}
    drv.close()


def test_router_down_is_temporary_and_the_same_driver_works_when_it_is_back(fake_router, driver):
    driver.apply(action("list_add", "blocked", "10.20.0.5"))
    port = fake_router.port
    fake_router.down()

    with pytest.raises(TemporaryError, match="cannot connect: .*refused"):
        driver.apply(action("list_add", "blocked", "10.20.0.6"))
    with pytest.raises(TemporaryError):
        driver.list_addresses("blocked")

    fake_router.up()
    assert fake_router.port == port
    driver.apply(action("list_add", "blocked", "10.20.0.6"))
    assert driver.list_addresses("blocked") == {"10.20.0.5", "10.20.0.6"}


def test_one_connection_serves_many_actions(fake_router, driver):
    for n in range(5):
        driver.apply(action("list_add", "blocked", f"10.20.0.{n}"))
    driver.list_addresses("blocked")

    assert fake_router.connections_accepted == 1
    assert [w[0] for w in fake_router.commands].count("/login") == 1


def test_a_dropped_idle_connection_is_reopened_once_transparently(fake_router, driver):
    driver.apply(action("list_add", "blocked", "10.20.0.1"))
    fake_router.drop_connections()  # router reboot / idle timeout between two actions

    driver.apply(action("list_add", "blocked", "10.20.0.2"))

    assert fake_router.entries("blocked") == {"10.20.0.1", "10.20.0.2"}
    assert fake_router.connections_accepted == 2


def test_fatal_reply_reconnects_once(fake_router, driver):
    driver.apply(action("list_add", "blocked", "10.20.0.1"))
    fake_router.fatal_next = "session terminated"

    driver.apply(action("list_add", "blocked", "10.20.0.2"))

    assert fake_router.entries("blocked") == {"10.20.0.1", "10.20.0.2"}
    assert fake_router.connections_accepted == 2


def test_fatal_on_a_fresh_connection_is_temporary(fake_router, driver):
    driver.apply(action("list_add", "blocked", "10.20.0.1"))
    driver.close()
    fake_router.fatal_next = "out of resources"  # hits the login of the new connection

    with pytest.raises(TemporaryError, match=r"cannot connect: .*\(!fatal\).*out of resources"):
        driver.apply(action("list_add", "blocked", "10.20.0.2"))


def test_a_router_that_stops_answering_times_out_as_temporary(fake_router):
    drv = driver_for(router_config(fake_router), timeout=0.5)
    drv.apply(action("list_add", "blocked", "10.20.0.1"))
    fake_router.stall = True

    started = time.monotonic()
    with pytest.raises(TemporaryError, match="timed out"):
        drv.apply(action("list_add", "blocked", "10.20.0.2"))
    assert time.monotonic() - started < 3  # one timeout plus one reconnect attempt's timeout

    fake_router.stall = False
    drv.apply(action("list_add", "blocked", "10.20.0.2"))
    assert fake_router.entries("blocked") == {"10.20.0.1", "10.20.0.2"}
    drv.close()


def test_nothing_listening_is_temporary():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    config = router_config(
        SimpleNamespace(
            host="127.0.0.1", port=port, tls=False, username="api", password="x", cafile=None
        )
    )
    with pytest.raises(TemporaryError, match="cannot connect"):
        driver_for(config).apply(action("kick", username="alice"))


def test_no_host_is_permanent(fake_router):
    with pytest.raises(PermanentError, match="no host"):
        driver_for(router_config(fake_router, host=None)).apply(action("kick", username="a"))


# --- TLS -------------------------------------------------------------------------------------


def test_tls_with_ca_verification(fake_router_tls):
    drv = driver_for(router_config(fake_router_tls))
    drv.apply(action("list_add", "blocked", "10.20.0.5"))
    fake_router_tls.add_ppp_session("alice", "10.20.0.5")
    drv.apply(action("kick", username="alice"))

    assert drv.list_addresses("blocked") == {"10.20.0.5"}
    assert fake_router_tls.ppp_sessions == []
    drv.close()


def test_tls_refuses_a_certificate_from_an_untrusted_ca(fake_router_tls):
    with tempfile.TemporaryDirectory(prefix="e1-other-ca-") as other:
        other_ca, _, _ = make_certificates(Path(other))
        drv = driver_for(router_config(fake_router_tls, ca_file=other_ca))
        with pytest.raises(TemporaryError, match="TLS certificate not trusted"):
            drv.apply(action("list_add", "blocked", "10.20.0.5"))
    assert fake_router_tls.entries("blocked") == set()
    assert fake_router_tls.commands == []  # not even the password was sent


def test_tls_checks_the_host_name_unless_told_not_to(fake_router_tls):
    """The certificate names IP 127.0.0.1 only; reaching it as "localhost" is a mismatch."""
    config = router_config(fake_router_tls, host="localhost")
    with pytest.raises(TemporaryError, match="TLS certificate not trusted: Hostname mismatch"):
        driver_for(config).apply(action("list_add", "blocked", "10.20.0.5"))

    drv = driver_for(config, check_hostname=False)  # trust anchor pinned by ca_file alone
    drv.apply(action("list_add", "blocked", "10.20.0.5"))
    assert fake_router_tls.entries("blocked") == {"10.20.0.5"}
    drv.close()


def test_tls_driver_against_a_plain_port_fails_temporarily(fake_router):
    config = router_config(fake_router, use_tls=True, ca_file=None)
    with pytest.raises(TemporaryError):
        driver_for(config, timeout=1).apply(action("kick", username="alice"))


def test_missing_ca_file_is_temporary_with_its_name(fake_router_tls):
    config = router_config(fake_router_tls, ca_file="/nonexistent/e1-ca.pem")
    with pytest.raises(TemporaryError, match="cannot load CA file /nonexistent/e1-ca.pem"):
        driver_for(config).apply(action("kick", username="alice"))


# --- the wire protocol -----------------------------------------------------------------------

BOUNDARIES = [
    0,
    1,
    0x7F,
    0x80,
    0x3FFF,
    0x4000,
    0x1FFFFF,
    0x200000,
    0xFFFFFFF,
    0x10000000,
    0xFFFFFFFF,
]
EXPECTED_PREFIX = {
    0x7F: b"\x7f",
    0x80: b"\x80\x80",
    0x3FFF: b"\xbf\xff",
    0x4000: b"\xc0\x40\x00",
    0x1FFFFF: b"\xdf\xff\xff",
    0x200000: b"\xe0\x20\x00\x00",
    0xFFFFFFF: b"\xef\xff\xff\xff",
    0x10000000: b"\xf0\x10\x00\x00\x00",
}


def reader_of(data: bytes):
    stream = iter([data])
    buffer = bytearray(next(stream))

    def read(n):
        chunk = bytes(buffer[:n])
        del buffer[:n]
        assert len(chunk) == n
        return chunk

    return read


@pytest.mark.parametrize("length", BOUNDARIES)
def test_length_encoding_at_every_boundary_matches_the_client(length):
    ours = encode_length(length)

    assert ours == base_api.encode_length(length)
    if length in EXPECTED_PREFIX:
        assert ours == EXPECTED_PREFIX[length]
    assert decode_length(reader_of(ours)) == length  # the fake decodes its own
    assert base_api.decode_length(reader_of(ours)) == length  # the client decodes the fake's
    assert decode_length(reader_of(base_api.encode_length(length))) == length


def test_reserved_control_bytes_are_refused():
    from tests.enforcement.fake_routeros import ProtocolError

    with pytest.raises(ProtocolError):
        decode_length(reader_of(b"\xf8"))


# Word = "=comment=" + value: choose values so that the whole word sits on each boundary.
WORD_LENGTHS = [0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000]


@pytest.mark.parametrize("word_length", WORD_LENGTHS)
def test_long_comment_round_trip_through_the_real_client(fake_router, word_length):
    """The client encodes the word, the fake decodes it, stores it, encodes it in the reply,
    the client decodes it: both directions at each length-encoding boundary."""
    value = "ž" + "x" * (word_length - len("=comment=") - len("ž".encode()))
    assert len(("=comment=" + value).encode()) == word_length

    pool = RouterOsApiPool(
        fake_router.host,
        username="api",
        password="secret",
        port=fake_router.port,
        plaintext_login=True,
    )
    try:
        resource = pool.get_api().get_resource(ADDRESS_LIST)
        resource.add(list="blocked", address="10.20.0.5", comment=value)
        [row] = resource.get(list="blocked")
    finally:
        pool.disconnect()

    assert row["comment"] == value
    assert fake_router.entry_rows("blocked")[0]["comment"] == value


def raw_exchange(router, *sentences):
    """Speak the protocol by hand (no client library) and collect replies until !done/!fatal."""
    with socket.create_connection((router.host, router.port), timeout=5) as conn:
        reader, replies = _Reader(conn), []
        for words in sentences:
            conn.sendall(encode_sentence(words))
            while True:
                try:
                    reply = reader.sentence()
                except EOFError:
                    return replies
                replies.append(reply)
                if reply[0] in ("!done", "!fatal"):
                    break
        return replies


def test_raw_protocol_tags_traps_empty_and_ret(fake_router):
    replies = raw_exchange(
        fake_router,
        ["/login", "=name=api", "=password=secret", ".tag=a"],
        [ADDRESS_LIST + "/print", "?list=blocked", ".tag=b"],
        [ADDRESS_LIST + "/add", "=list=blocked", "=address=10.0.0.1/32", ".tag=c"],
        [ADDRESS_LIST + "/add", "=list=blocked", "=address=10.0.0.1", ".tag=d"],
        [ADDRESS_LIST + "/print", ".proplist=address", "?list=blocked", ".tag=e"],
        [ADDRESS_LIST + "/remove", "=.id=*99", ".tag=f"],
        ["/ip/route/print", ".tag=g"],
        ["/system/identity/print", ".tag=h"],
        ["/quit", ".tag=i"],
    )
    assert replies == [
        ["!done", ".tag=a"],
        ["!empty", ".tag=b"],
        ["!done", ".tag=b"],
        ["!done", "=ret=*1", ".tag=c"],
        ["!trap", "=message=failure: already have such entry", ".tag=d"],
        ["!done", ".tag=d"],
        ["!re", "=address=10.0.0.1", ".tag=e"],
        ["!done", ".tag=e"],
        ["!trap", "=message=no such item", ".tag=f"],
        ["!done", ".tag=f"],
        ["!trap", "=message=no such command", ".tag=g"],
        ["!done", ".tag=g"],
        ["!re", "=name=FakeRouter", ".tag=h"],
        ["!done", ".tag=h"],
        ["!fatal", "session terminated on request"],
    ]


def test_raw_protocol_login_required_and_wrong_password(fake_router):
    assert raw_exchange(fake_router, [ADDRESS_LIST + "/print"]) == [["!fatal", "not logged in"]]
    assert raw_exchange(fake_router, ["/login", "=name=api", "=password=nope", ".tag=1"]) == [
        ["!trap", "=message=invalid user name or password (6)", ".tag=1"],
        ["!done", ".tag=1"],
    ]


def test_raw_protocol_query_stack(fake_router):
    for n in range(1, 4):
        fake_router.add_entry("blocked", f"10.0.0.{n}", comment=f"c{n}")
    replies = raw_exchange(
        fake_router,
        ["/login", "=name=api", "=password=secret"],
        [
            ADDRESS_LIST + "/print",
            "=.proplist=address",
            "?address=10.0.0.1",
            "?address=10.0.0.3",
            "?#|",
        ],
        [
            ADDRESS_LIST + "/print",
            "=.proplist=address",
            "?address=10.0.0.2",
            "?#!",
            "?list=blocked",
        ],
    )
    addresses = [r[1] for r in replies if r[0] == "!re"]
    assert addresses == ["=address=10.0.0.1", "=address=10.0.0.3"] * 2
