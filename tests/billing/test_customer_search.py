"""The operators' customer search (billing/customers/search.py): every kind of key, the
folding of names, ranking, and input that finds nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.customers.search import Rank, phone_key, search
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import Contract, Customer, Service, ServiceAddress
from billing.models.customers import fold_words, search_name_of


@pytest.fixture
def people(session, make_customer, supplier):
    novak = make_customer("1001", name="Jan Novák", email="jan.novak@seznam.cz",
                          phone="+420601234567", internet_ip="10.20.0.11", password=None)
    dvorak = make_customer("1002", name="Petr Dvořák", email="petr@example.cz",
                           phone="+420777888999", password=None)
    firm = make_customer("1003", name="Novotný s.r.o.", contact_person="Eva Nováková",
                         email="info@novotny.cz", phone="+420605111222", password=None)
    other = make_customer("2001", name="Zdeněk Černý", email="cerny@example.cz",
                          phone="+420731000001", password=None)
    service = session.get(Customer, novak.id).services[0]
    service.pppoe_username = "novak1001"
    # a second contract of Dvořák: its number is a VS of his
    session.add(Contract(customer_id=dvorak.id, number="77001", signed_on=date(2025, 1, 1)))
    session.flush()
    inv = issue_invoice(session, session.get(Customer, other.id),
                        [LineInput("Internet", Decimal("1"), Decimal("450.00"))], supplier,
                        IssueOptions(issue_date=date(2026, 3, 1)))
    session.commit()
    return {"novak": novak.id, "dvorak": dvorak.id, "firm": firm.id, "other": other.id,
            "invoice": inv.number}


def ids(hits):
    return [h.customer_id for h in hits]


def test_folding_drops_diacritics_and_case():
    assert fold_words("Dvořák ŽLUŤOUČKÝ kůň") == ["dvorak", "zlutoucky", "kun"]
    assert search_name_of("Novotný s.r.o.", "Eva Nováková", "info@novotny.cz") == \
        "novotny s r o eva novakova info novotny cz"


def test_the_column_is_kept_on_every_write(session, people):
    customer = session.get(Customer, people["dvorak"])
    assert customer.search_name == "petr dvorak petr example cz"
    customer.name = "Petr Dvořáček"
    session.flush()
    session.expire(customer)
    assert customer.search_name.startswith("petr dvoracek")


@pytest.mark.parametrize("query", ["novak", "Novák", "NOVAK", "jan novak", "novak jan", "nov"])
def test_name_without_diacritics_any_case_any_order(session, people, query):
    hits = search(session, query)
    assert people["novak"] in ids(hits)
    assert people["dvorak"] not in ids(hits)
    assert all(h.rank == Rank.NAME for h in hits if h.customer_id != people["novak"])


def test_dvorak_finds_dvorak_and_contact_person_counts(session, people):
    assert ids(search(session, "dvorak")) == [people["dvorak"]]
    # "novakova" is the contact person of the firm, "novak" starts it too
    assert people["firm"] in ids(search(session, "novakova"))
    assert set(ids(search(session, "novak"))) == {people["novak"], people["firm"]}


def test_customer_number_is_exact_and_first(session, people):
    hits = search(session, "1001")
    assert hits[0].customer_id == people["novak"]
    assert hits[0].rank == Rank.EXACT and hits[0].matched == "number"
    # a beginning of numbers, ranked after
    hits = search(session, "100")
    assert set(ids(hits)) == {people["novak"], people["dvorak"], people["firm"]}
    assert all(h.rank == Rank.PREFIX for h in hits)


def test_variable_symbol_contract_number_and_zero_padding(session, people):
    hits = search(session, "77001")
    assert ids(hits) == [people["dvorak"]] and hits[0].matched == "vs"
    assert ids(search(session, "0000077001")) == [people["dvorak"]]


def test_invoice_number(session, people):
    hits = search(session, people["invoice"])
    assert hits[0].customer_id == people["other"]
    assert hits[0].matched in {"invoice", "vs"}


@pytest.mark.parametrize("query", ["601234567", "601 234 567", "+420 601 234 567",
                                   "+420601234567", "00420 601 234 567", "601-234-567",
                                   "(+420) 601 234 567"])
def test_phone_in_any_spacing(session, people, query):
    hits = search(session, query)
    assert hits[0].customer_id == people["novak"]
    assert hits[0].matched == "phone" and hits[0].rank == Rank.EXACT


def test_phone_beginning(session, people):
    assert ids(search(session, "605 111")) == [people["firm"]]


def test_phone_key():
    assert phone_key("601 234 567") == ("+420601234567", True)
    assert phone_key("+420 601") == ("+420601", False)
    assert phone_key("abc") is None
    assert phone_key("0601234567") is None


def test_ip_address_exact_and_beginning(session, people):
    hits = search(session, "10.20.0.11")
    assert ids(hits) == [people["novak"]] and hits[0].matched == "ip"
    hits = search(session, "10.20.0.")
    assert ids(hits) == [people["novak"]] and hits[0].rank == Rank.PREFIX


def test_pppoe_user_name(session, people):
    hits = search(session, "novak1001")
    assert hits[0].customer_id == people["novak"] and hits[0].matched == "pppoe"
    assert hits[0].rank == Rank.EXACT
    assert ids(search(session, "NOVAK10")) == [people["novak"]]


def test_email(session, people):
    hits = search(session, "Jan.Novak@seznam.cz")
    assert hits[0].customer_id == people["novak"] and hits[0].matched == "email"
    assert ids(search(session, "info@novotny")) == [people["firm"]]


def test_exact_before_names(session, people, make_customer):
    # a customer whose name contains the number ranks after the customer with that number
    make_customer("3001", name="Firma 1001 s.r.o.", email="x@example.cz", password=None)
    hits = search(session, "1001")
    assert hits[0].customer_id == people["novak"]
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)


def test_limit(session, make_customer):
    for n in range(12):
        make_customer(str(4000 + n), name=f"Jana Nováková {n}", password=None)
    assert len(search(session, "novakova", limit=5)) == 5
    assert len(search(session, "novakova")) == 12


@pytest.mark.parametrize("query", ["", "   ", None, "%", "_", "'; DROP TABLE customer; --",
                                   "&|!():*", "\\", "a" * 5000, "ž" * 300, "0", "::", "..."])
def test_empty_or_garbage_finds_nothing_and_never_fails(session, people, query):
    assert search(session, query) == []


def test_like_wildcards_are_text(session, people):
    assert search(session, "10.20.0%") == []
    assert search(session, "1_01") == []


def test_service_address_prefix_with_netmask(session, people):
    novak = session.get(Customer, people["novak"])
    service = Service(customer_id=novak.id, contract_id=novak.contracts[0].id, kind="internet",
                      name="Internet 300", price=Decimal("650.00"), valid_from=date(2025, 1, 1))
    service.addresses.append(ServiceAddress(address="192.0.2.0/29"))
    session.add(service)
    session.commit()
    assert ids(search(session, "192.0.2.0")) == [people["novak"]]
    assert ids(search(session, "192.0.2.0/29")) == [people["novak"]]
