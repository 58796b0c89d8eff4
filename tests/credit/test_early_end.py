"""Ending a prepaid service before its expiry returns the unused days to the credit through a
credit note of the renewal invoice that paid them (billing/credit/early_end.py). A table of
cases, each to the haléř; run with ``-s`` to see it printed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.credit import credit_balance, open_account
from billing.credit.early_end import NothingToReturn, end_prepaid_early
from billing.credit.renewals import order_renewal, renew
from billing.ledger import postings
from billing.ledger.balances import customer_balance, open_invoices
from billing.models import (
    AuditEvent,
    CreditReturn,
    Invoice,
    LedgerLeg,
    RenewalSource,
    Service,
)
from billing.models import TransactionKind as TK

D = Decimal
ON = date(2026, 12, 7)


def give_credit(session, customer, amount="5000.00"):
    postings.record(session, [postings.Posting(
        TK.OPENING, [(postings.account_key("credit", customer.id), -D(amount)),
                     (postings.account_key("opening_balance"), D(amount))],
        customer_id=customer.id)])


def prepaid(session, customer, *, price, rate=21, period="year", expires_on, kind="other"):
    service = Service(customer_id=customer.id, contract_id=customer.contracts[0].id, kind=kind,
                      name="Webhosting" if kind == "other" else "Pojištění zařízení",
                      price=D(price), vat_rate=D(rate), period=period,
                      valid_from=date(2025, 1, 1), expires_on=expires_on)
    session.add(service)
    session.flush()
    return service


# name, price, rate, period, first expiry, renewals (how), last day,
# expected [(days, period days, credited gross, credit note base, credit note VAT)] newest
# renewal first, returned to the credit (without VAT)
CASES = [
    ("yearly, ended the first day", "1210.00", 21, "year", date(2026, 1, 31), ["credit"],
     date(2026, 2, 1), [(364, 365, "1206.68", "997.26", "209.42")], "997.26"),
    ("yearly, 100 days used", "1210.00", 21, "year", date(2026, 1, 31), ["credit"],
     date(2026, 5, 11), [(265, 365, "878.49", "726.02", "152.47")], "726.02"),
    ("monthly, 9 of 30 days used", "605.00", 21, "month", date(2026, 3, 31), ["credit"],
     date(2026, 4, 9), [(21, 30, "423.50", "350.00", "73.50")], "350.00"),
    ("insurance at 12 %", "1120.00", 12, "year", date(2026, 1, 31), ["credit"],
     date(2026, 7, 15), [(200, 365, "613.70", "547.95", "65.75")], "547.95"),
    ("a leap year's 366 days", "1210.00", 21, "year", date(2027, 5, 31), ["credit"],
     date(2027, 6, 30), [(336, 366, "1110.82", "918.03", "192.79")], "918.03"),
    ("renewed twice ahead: two credit notes", "1210.00", 21, "year", date(2026, 1, 31),
     ["credit", "credit"], date(2026, 5, 11),
     [(365, 365, "1210.00", "1000.00", "210.00"), (265, 365, "878.49", "726.02", "152.47")],
     "1726.02"),
    ("renewal paid by bank transfer", "1210.00", 21, "year", date(2026, 1, 31), ["transfer"],
     date(2026, 5, 11), [(265, 365, "878.49", "726.02", "152.47")], "726.02"),
    ("renewal left unpaid: the credit note lowers the debt", "1210.00", 21, "year",
     date(2026, 1, 31), ["operator"], date(2026, 5, 11),
     [(265, 365, "878.49", "726.02", "152.47")], "0.00"),
]


def _renew(session, service, supplier, how):
    if how == "transfer":
        order = order_renewal(session, service, supplier, actor="customer:test", on=ON)
        invoice = session.get(Invoice, order.invoice_id)
        from billing.models import Allocation, BankTransaction
        tx = BankTransaction(source_account="2001234588/2010", bank_tx_id=f"T{invoice.id}",
                             booked_on=ON, amount=invoice.total, customer_id=service.customer_id,
                             variable_symbol=invoice.variable_symbol, status="matched")
        session.add(tx)
        session.flush()
        postings.post_payments(session, [(tx, service.customer_id)], "test")
        alloc = Allocation(invoice_id=invoice.id, bank_transaction_id=tx.id, amount=invoice.total)
        session.add(alloc)
        session.flush()
        postings.post_allocations(session, [{"id": alloc.id, "customer_id": service.customer_id,
                                             "invoice_id": invoice.id, "amount": alloc.amount}],
                                  "test")
        renew(session, service, None, paid_from=RenewalSource.TRANSFER, actor="test", on=ON,
              invoice=invoice)
        return
    source = RenewalSource.CREDIT if how == "credit" else RenewalSource.OPERATOR
    renew(session, service, supplier, paid_from=source, actor="operator:test", on=ON)


@pytest.mark.parametrize("name,price,rate,period,expiry,renewals,last_day,expected,returned",
                         CASES, ids=[c[0] for c in CASES])
def test_unused_days_return_to_the_credit(session, make_customer, supplier, name, price, rate,
                                          period, expiry, renewals, last_day, expected, returned):
    customer = make_customer(str(9400 + [c[0] for c in CASES].index(name)))
    open_account(session, customer, "CZK", actor="operator:test")
    give_credit(session, customer)
    service = prepaid(session, customer, price=price, rate=rate, period=period,
                      expires_on=expiry, kind="insurance" if rate == 12 else "other")
    for how in renewals:
        _renew(session, service, supplier, how)
    session.flush()
    credit_before = credit_balance(session, customer.id)
    balance_before = customer_balance(session, customer.id)

    result = end_prepaid_early(session, service.id, last_day, supplier,
                               actor="operator:podpora", on=ON)
    rows = [f"  {name}: ends {last_day}, credit {credit_before} -> {result.credit_after}"]
    got = []
    for part, note in zip(result.parts, result.credit_notes, strict=True):
        rows.append(f"    {note.number} for {part.invoice.number}: {part.days}/{part.period_days} "
                    f"days, {-note.total} = base {-note.total_net} + VAT {-note.total_vat}")
        got.append((part.days, part.period_days, -note.total, -note.total_net, -note.total_vat))
        assert note.kind == "credit_note" and note.corrects_invoice_id == part.invoice.id
        assert f"nevyčerpaných {part.days} z {part.period_days} dní" in note.note
    print("\n".join(rows))
    assert got == [(d, p, D(g), D(b), D(v)) for d, p, g, b, v in expected]
    assert result.returned == D(returned)
    assert credit_balance(session, customer.id) == credit_before + D(returned)
    service = session.get(Service, service.id)
    assert service.valid_to == last_day and service.expires_on > last_day
    if "unpaid" in name:  # the credit note lowered what is owed on the renewal invoice
        (state,) = open_invoices(session, customer.id, ON)
        assert state.open_amount == D(price) - D(expected[0][2])
        assert customer_balance(session, customer.id) == balance_before + D(expected[0][2])
    else:  # the customer's balance is untouched: the credit note's credit went to the credit
        assert customer_balance(session, customer.id) == balance_before
        assert open_invoices(session, customer.id, ON) == []
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "service.ended_early", AuditEvent.customer_id == customer.id)).one()
    assert event.actor == "operator:podpora" and returned in event.details


def test_the_credit_note_settles_nothing_else(session, make_customer, supplier):
    """An open invoice of the customer stays open: the returned part is in the credit."""
    from billing.invoicing.issue import IssueOptions, issue_invoice
    from billing.invoicing.vat import LineInput

    customer = make_customer("9501")
    open_account(session, customer, "CZK", actor="operator:test")
    give_credit(session, customer)
    service = prepaid(session, customer, price="1210.00", expires_on=date(2026, 1, 31))
    renew(session, service, supplier, paid_from=RenewalSource.CREDIT, actor="t", on=ON)
    other = issue_invoice(session, customer, [LineInput("Výjezd technika", D(1), D("500.00"))],
                          supplier, IssueOptions(issue_date=ON))
    end_prepaid_early(session, service.id, date(2026, 5, 11), supplier, actor="t", on=ON)
    (state,) = open_invoices(session, customer.id, ON)
    assert state.invoice.id == other.id and state.open_amount == D("500.00")
    # and the next settlement (a payment of anything) does not use it either
    from billing.bank.pairing import settle
    settle(session, [customer.id], {})
    (state,) = open_invoices(session, customer.id, ON)
    assert state.open_amount == D("500.00")
    assert session.scalar(select(func.count()).select_from(CreditReturn)) == 1


def test_refusals_write_nothing(session, make_customer, supplier):
    customer = make_customer("9502")
    open_account(session, customer, "CZK", actor="operator:test")
    give_credit(session, customer)
    service = prepaid(session, customer, price="1210.00", expires_on=date(2026, 1, 31))
    by_hand = prepaid(session, customer, price="1210.00", expires_on=date(2026, 12, 31))
    plain = prepaid(session, customer, price="1210.00", expires_on=None)
    renew(session, service, supplier, paid_from=RenewalSource.CREDIT, actor="t", on=ON)
    no_account = make_customer("9503")
    theirs = prepaid(session, no_account, price="1210.00", expires_on=date(2026, 1, 31))
    _renew(session, theirs, supplier, "transfer")
    session.commit()
    before = session.scalar(select(func.count()).select_from(LedgerLeg))
    for svc, last_day, message in (
        (service, date(2027, 1, 31), "leaves no unused day to return"),
        (service, date(2027, 3, 1), "leaves no unused day to return"),
        (by_hand, date(2026, 6, 30), "its expiry was set by hand"),
        (plain, date(2026, 6, 30), "not prepaid"),
        (service, date(2024, 6, 30), "cannot end before it starts"),
        (theirs, date(2026, 5, 11), "no open credit account"),
    ):
        with pytest.raises(NothingToReturn, match=message):
            end_prepaid_early(session, svc.id, last_day, supplier, actor="t", on=ON)
        session.rollback()
    assert session.scalar(select(func.count()).select_from(LedgerLeg)) == before
    assert session.get(Service, service.id).valid_to is None
