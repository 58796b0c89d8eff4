"""A new e-mail address takes effect only from a link sent to it (issue 13, item 13).

Before: the new address was set at once, the old one was not told, and password resets went
to the new address - whoever got hold of a session owned the account.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from billing.customers import email_change
from billing.models import AuditEvent, Customer
from tests.zone.test_pages import CONTACT

NEW = "jana.nova@example.org"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PUBLIC_URL": "https://zona.example.net"}


@pytest.fixture
def jana(make_customer):
    return make_customer(number="3001", password="secret-pass", internet_ip="10.20.0.5")


@pytest.fixture
def logged_in(auth, client, jana):
    assert auth.login("3001", "secret-pass", client=client).status_code == 302
    return client


def fresh(session) -> None:
    """See what the app committed: a new transaction, no object from before."""
    session.rollback()
    session.expire_all()


def current_email(session, customer) -> str:
    fresh(session)
    return session.get(Customer, customer.id).email


def body(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def ask(client, email=NEW, **other):
    return client.post("/info/edit", data={**CONTACT, "email": email, **other})


def link_in(outbox, to=NEW) -> str:
    [mail] = [m for m in outbox.messages() if m["To"] == to]
    found = re.search(r"https://zona\.example\.net(/info/email/\S+)", body(mail))
    assert found, body(mail)
    return found.group(1)


def test_the_new_address_waits_for_the_link(logged_in, session, jana, outbox):
    response = ask(logged_in)
    assert response.status_code == 302
    assert current_email(session, jana) == "jana@example.cz"  # not yet
    page = logged_in.get("/info").get_data(as_text=True)
    assert f"Na adresu {NEW} jsme poslali odkaz" in page

    to_new, to_old = sorted(outbox.messages(), key=lambda m: m["To"] != NEW)
    assert to_new["To"] == NEW and to_new["Subject"] == "Potvrďte svou novou e-mailovou adresu"
    assert "platnost odkazu vyprší za 24 hodin" in body(to_new)
    assert to_old["To"] == "jana@example.cz"
    assert to_old["Subject"] == "Vaše e-mailová adresa se má změnit"
    assert NEW in body(to_old) and "https://zona.example.net/password/forgot" in body(to_old)
    assert "podpora@priklad.net" in body(to_old)

    link = link_in(outbox)
    page = logged_in.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and NEW in page.get_data(as_text=True)
    assert current_email(session, jana) == "jana@example.cz"

    response = logged_in.post(link, follow_redirects=True)
    assert response.status_code == 200
    assert f"Vaše e-mailová adresa je nyní {NEW}." in response.get_data(as_text=True)
    assert current_email(session, jana) == NEW
    operator = [m for m in outbox.messages() if m["To"] == "podpora@priklad.net"]
    assert len(operator) == 1 and f"jana@example.cz -> {NEW}" in body(operator[0])

    # the link works once: the address it was issued for is no longer current
    again = logged_in.post(link)
    assert again.status_code == 404
    assert "se od odeslání odkazu změnila" in again.get_data(as_text=True)


def test_requests_and_confirmations_are_audited(logged_in, session, jana, outbox):
    ask(logged_in)
    logged_in.post(link_in(outbox))
    fresh(session)
    events = session.scalars(select(AuditEvent).where(AuditEvent.customer_id == jana.id)
                             .order_by(AuditEvent.id)).all()
    rows = [(e.action, e.field, e.old_value, e.new_value, e.actor, e.ip) for e in events
            if e.action.startswith("contact.")]
    assert rows == [
        ("contact.email_change_requested", "email", "jana@example.cz", NEW, "customer:3001", "127.0.0.1"),
        ("contact.changed", "email", "jana@example.cz", NEW, "customer:3001", "127.0.0.1"),
    ]


def test_password_resets_go_to_the_old_address_until_confirmed(app, logged_in, client, session,
                                                                jana, outbox):
    ask(logged_in)
    anonymous = app.test_client()
    anonymous.post("/password/forgot", data={"customer_number": "3001"})
    resets = [m for m in outbox.messages() if m["Subject"] == "Obnovení hesla do zákaznické zóny"]
    assert [m["To"] for m in resets] == ["jana@example.cz"]

    logged_in.post(link_in(outbox))
    anonymous.post("/password/forgot", data={"customer_number": "3001"})
    resets = [m for m in outbox.messages() if m["Subject"] == "Obnovení hesla do zákaznické zóny"]
    assert [m["To"] for m in resets] == ["jana@example.cz", NEW]


def test_other_details_are_saved_at_once(logged_in, session, jana, outbox):
    ask(logged_in, city="Praha")
    fresh(session)
    customer = session.get(Customer, jana.id)
    assert customer.city == "Praha" and customer.email == "jana@example.cz"


def test_a_stale_link_fails(logged_in, session, jana, outbox):
    """Two requests; the second confirmed first: the first link no longer applies."""
    ask(logged_in, email="first@example.org")
    first = link_in(outbox, "first@example.org")
    ask(logged_in, email="second@example.org")
    second = link_in(outbox, "second@example.org")
    assert logged_in.post(second).status_code == 302
    response = logged_in.post(first)
    assert response.status_code == 404
    assert current_email(session, jana) == "second@example.org"


def test_an_expired_a_forged_and_another_customers_link_fail(auth, app, logged_in, client, session,
                                                             jana, make_customer, outbox,
                                                             monkeypatch):
    ask(logged_in)
    link = link_in(outbox)
    token = link.rsplit("/", 1)[1]

    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = logged_in.post(f"/info/email/{forged}")
    assert response.status_code == 404 and "nepochází od nás" in response.get_data(as_text=True)

    other = make_customer(number="3002", password="secret-pass", email="petr@example.cz")
    other_client = app.test_client()
    assert auth.login("3002", "secret-pass", client=other_client).status_code == 302
    response = other_client.post(link)
    assert response.status_code == 404 and "jinému zákaznickému číslu" in response.get_data(as_text=True)
    assert current_email(session, other) == "petr@example.cz"

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 25 * 3600)
    response = logged_in.post(link)
    assert response.status_code == 404 and "vypršela" in response.get_data(as_text=True)
    monkeypatch.undo()
    assert current_email(session, jana) == "jana@example.cz"


def test_the_link_needs_the_login(app, logged_in, session, jana, outbox):
    ask(logged_in)
    link = link_in(outbox)
    stranger = app.test_client()
    response = stranger.post(link)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert current_email(session, jana) == "jana@example.cz"


def test_same_address_sends_nothing(logged_in, session, jana, outbox):
    assert ask(logged_in, email="JANA@example.cz ").status_code == 302
    assert outbox.messages() == []
    assert current_email(session, jana) == "jana@example.cz"


def test_english_customer_gets_english(auth, app, client, session, make_customer, outbox):
    make_customer(number="3003", password="secret-pass", email="tom@example.cz", language="en")
    assert auth.login("3003", "secret-pass", client=client).status_code == 302
    ask(client, email="tom@example.org")
    subjects = sorted(m["Subject"] for m in outbox.messages())
    assert subjects == ["Confirm your new e-mail address", "Your e-mail address is about to change"]


def test_token_carries_the_customer_the_address_and_the_current_hash(jana):
    token = email_change.make_token("s3cret", jana, NEW)
    request = email_change.read_token("s3cret", token, 3600)
    assert (request.customer_id, request.new_email) == (jana.id, NEW)
    assert request.current_hash == email_change.address_hash("jana@example.cz")
    with pytest.raises(email_change.EmailChangeError) as err:
        email_change.read_token("other-secret", token, 3600)
    assert err.value.code == "invalid"


def test_requests_are_capped_per_day(logged_in, session, jana, outbox):
    """Each request mails an address anyone may type: five a day, then a refusal that
    mails and writes nothing."""
    for i in range(5):
        assert ask(logged_in, email=f"nova{i}@example.cz").status_code == 302
    sent = len(outbox.messages())
    response = logged_in.post("/info/edit", data={**CONTACT, "email": "spam@example.org"},
                              follow_redirects=True)
    assert "příliš mnohokrát" in response.get_data(as_text=True)
    assert len(outbox.messages()) == sent
    fresh(session)
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "contact.email_change_requested")) == 5
