"""The RADIUS Dynamic Authorization driver against a real pyrad NAS on loopback (no mocks)."""

from __future__ import annotations

import time

import pytest
from pyrad import packet
from pyrad.dictionary import Dictionary

from enforcement.drivers import PermanentError, SessionRef, TemporaryError, driver_for
from enforcement.models import RouterAction
from enforcement.radius import dictionary_path, load_dictionary
from tests.enforcement.nas import TestNAS, router_config
from tests.enforcement.nas import test_nas as _test_nas_fixture  # noqa: F401 (registers "test_nas")

FAST = {"timeout": 0.1, "retries": 2, "max_timeout": 0.4, "max_duration": 2.0}
ALICE = SessionRef(
    username="alice", acct_session_id="81a00007", framed_ip="10.1.2.3", nas_ip="192.0.2.1"
)


def action(kind="kick", list_name=None, username="alice", address="10.1.2.3"):
    return RouterAction(
        router_name="nas1", kind=kind, list_name=list_name, username=username, address=address
    )


@pytest.fixture
def driver(test_nas):
    d = driver_for(router_config(test_nas), **FAST)
    yield d
    d.close()


def test_ack_is_done_and_request_identifies_the_session(test_nas, driver):
    result = driver.apply(action("kick"), ALICE)

    assert "Disconnect-ACK" in result
    [got] = test_nas.received
    assert got.code == "Disconnect-Request"
    assert got.attrs["User-Name"] == ["alice"]
    assert got.attrs["Acct-Session-Id"] == ["81a00007"]
    assert got.attrs["Framed-IP-Address"] == ["10.1.2.3"]
    assert got.attrs["NAS-IP-Address"] == ["192.0.2.1"]
    assert abs(got.attrs["Event-Timestamp"][0] - time.time()) < 5
    assert got.authenticator_ok
    assert got.message_authenticator and got.message_authenticator_ok
    assert got.raw[20] == 80, "Message-Authenticator is the first attribute"
    assert got.answer == "ack"


@pytest.mark.parametrize(
    ("kind", "list_name"),
    [("list_add", "blocked"), ("list_remove", "blocked"), ("list_remove", "warned")],
)
def test_blocking_and_unlisting_disconnect_so_the_session_redials(
    test_nas, driver, kind, list_name
):
    driver.apply(action(kind, list_name), ALICE)
    [got] = test_nas.received
    assert got.code == "Disconnect-Request"
    assert "Mikrotik-Address-List" not in got.attrs


def test_warning_is_a_coa_with_the_mikrotik_address_list(test_nas, driver):
    result = driver.apply(action("list_add", "warned"), ALICE)

    assert "CoA-ACK" in result
    [got] = test_nas.received
    assert got.code == "CoA-Request"
    assert got.attrs["Mikrotik-Address-List"] == ["warned"]
    assert got.attrs["Framed-IP-Address"] == ["10.1.2.3"]
    assert got.message_authenticator_ok


@pytest.mark.parametrize(
    ("cause", "name"), [(401, "Unsupported-Attribute"), (404, "Invalid-Request")]
)
def test_nak_4xx_is_permanent_and_names_the_cause(test_nas, driver, cause, name):
    test_nas.respond(f"nak:{cause}")

    with pytest.raises(PermanentError) as err:
        driver.apply(action("kick"), ALICE)

    assert f"Error-Cause {cause} {name}" in str(err.value)
    assert "not retried" in str(err.value)
    assert len(test_nas.received) == 1, "a NAK is an answer: no retransmission"


def test_nak_503_means_the_session_is_already_gone(test_nas, driver):
    test_nas.respond({"alice": "nak:503"}, default="nak:404")

    result = driver.apply(action("kick"), ALICE)

    assert "already gone" in result and "Session-Context-Not-Found" in result


def test_coa_nak_for_another_user_does_not_affect_alice(test_nas, driver):
    test_nas.respond({"bob": "nak:404"})
    bob = SessionRef(username="bob", acct_session_id="b1", framed_ip="10.1.2.4", nas_ip=None)

    assert "CoA-ACK" in driver.apply(action("list_add", "warned"), ALICE)
    with pytest.raises(PermanentError, match="404"):
        driver.apply(action("list_add", "warned", username="bob"), bob)


def test_silence_is_temporary_after_retransmissions_of_the_same_request(test_nas, driver):
    test_nas.respond("silence")

    started = time.monotonic()
    with pytest.raises(TemporaryError, match="after 3 transmissions"):
        driver.apply(action("kick"), ALICE)
    elapsed = time.monotonic() - started

    got = test_nas.wait_received(3)
    assert len(got) == 3
    assert len({g.identifier for g in got}) == 1
    assert len({g.authenticator for g in got}) == 1
    assert len({(g.source_host, g.source_port) for g in got}) == 1
    assert {g.raw for g in got} == {got[0].raw}, "retransmissions are byte for byte the same"
    # waits double (RFC 5080): 0.1 + 0.2 + 0.4 s, with 10 % jitter
    assert 0.6 <= elapsed < 5.0


def test_answer_after_silence_is_accepted_and_a_new_request_gets_new_identifiers(test_nas, driver):
    test_nas.silence_first(2)

    assert "Disconnect-ACK" in driver.apply(action("kick"), ALICE)
    first = test_nas.received
    assert len(first) == 3 and [g.answer for g in first] == [None, None, "ack"]
    assert len({(g.identifier, g.authenticator, g.source_port) for g in first}) == 1

    driver.apply(action("kick"), ALICE)
    second = test_nas.received[3]
    assert second.identifier != first[0].identifier
    assert second.authenticator != first[0].authenticator
    assert second.source_port == first[0].source_port, "one socket per driver"


def test_wrong_shared_secret_looks_like_a_timeout(test_nas):
    d = driver_for(router_config(test_nas, secret="wrong"), **FAST)
    try:
        with pytest.raises(TemporaryError, match="wrong shared secret"):
            d.apply(action("kick"), ALICE)
    finally:
        d.close()
    got = test_nas.wait_received(3)
    assert got and not any(g.authenticator_ok for g in got)
    assert not any(g.message_authenticator_ok for g in got)
    assert all(g.answer is None for g in got)


@pytest.mark.parametrize("answer", ["reply_secret", "ack-bad-ma"])
def test_answers_that_do_not_verify_are_ignored(test_nas, driver, answer):
    if answer == "reply_secret":
        test_nas.reply_secret = b"not-the-secret"
    else:
        test_nas.respond(answer)

    with pytest.raises(TemporaryError):
        driver.apply(action("kick"), ALICE)
    # the NAS did answer every transmission, the driver refused to believe it
    assert [g.answer for g in test_nas.wait_received(3)] == [
        answer if answer != "reply_secret" else "ack"
    ] * 3


def test_without_session_ref_falls_back_to_the_action(test_nas, driver):
    driver.apply(action("kick", username="carol", address="10.9.9.9/32"), None)
    [got] = test_nas.received
    assert got.attrs["User-Name"] == ["carol"]
    assert got.attrs["Framed-IP-Address"] == ["10.9.9.9"]
    assert "Acct-Session-Id" not in got.attrs


def test_nothing_to_identify_is_done_without_sending(test_nas, driver):
    result = driver.apply(action("kick", username=None, address=None), None)
    assert result.startswith("no session")
    assert test_nas.received == []


def test_nas_down_is_temporary():
    with TestNAS() as nas:
        config = router_config(nas)
    d = driver_for(config, **FAST)  # the NAS has stopped: nothing listens on its port
    try:
        with pytest.raises(TemporaryError):
            d.apply(action("kick"), ALICE)
    finally:
        d.close()


def test_shipped_dictionary_loads_in_pyrad_and_decodes_error_cause():
    fresh = Dictionary(dictionary_path())  # not the cached one: the file itself loads
    for name in (
        "Message-Authenticator",
        "Event-Timestamp",
        "Acct-Input-Gigawords",
        "Acct-Session-Id",
        "NAS-IP-Address",
        "Framed-IP-Address",
        "Error-Cause",
    ):
        assert name in fresh.attributes, name
    assert fresh.attributes["Mikrotik-Rate-Limit"].code == 8
    assert fresh.attributes["Mikrotik-Address-List"].code == 19
    assert fresh.vendors["Mikrotik"] == 14988

    nak = packet.CoAPacket(
        code=packet.DisconnectNAK,
        id=7,
        secret=b"x",
        authenticator=b"\0" * 16,
        dict=load_dictionary(),
    )
    nak["Error-Cause"] = 503
    decoded = packet.CoAPacket(packet=nak.ReplyPacket(), dict=fresh)
    assert decoded["Error-Cause"] == ["Session-Context-Not-Found"]
    nak["Error-Cause"] = "Invalid-Request"
    assert packet.CoAPacket(packet=nak.ReplyPacket(), dict=fresh)[101] == [(404).to_bytes(4, "big")]


def test_nak_506_resources_unavailable_is_retried_later(test_nas, driver):
    test_nas.respond("nak:506")
    with pytest.raises(TemporaryError, match="506 Resources-Unavailable"):
        driver.apply(action("kick"), ALICE)


def test_nak_without_error_cause_is_permanent(test_nas, driver):
    test_nas.respond("nak")
    with pytest.raises(PermanentError, match="without Error-Cause"):
        driver.apply(action("list_add", "warned"), ALICE)


def test_driver_is_registered_and_refuses_unknown_kinds(test_nas, driver):
    assert type(driver).__name__ == "RadiusDriver"
    with pytest.raises(PermanentError, match="unknown action kind"):
        driver.apply(action("reboot"), ALICE)
    assert test_nas.received == []
