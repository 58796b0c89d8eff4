"""Money acts (docs/money-acts.md): credit notes built from an invoice's lines and cash
payments with their receipts, correct to the haléř, with balanced ledger postings; refusals
change nothing; one-off invoices, the monthly run's preview, resending an e-mail, and the
commands. On SQLite and PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billing.bank.queue import PairingError
from billing.cash.payments import (
    CashLimitError,
    CashPaymentError,
    take_cash_payment,
)
from billing.documents.cash_receipt import render_cash_receipt_pdf
from billing.documents.pdf import render_invoice_pdf
from billing.invoicing.issue import (
    CreditLine,
    InvoicingError,
    IssueOptions,
    credit_invoice,
    issue_credit_note,
    issue_invoice,
    line_remainders,
)
from billing.invoicing.one_off import OneOffLine, issue_one_off
from billing.invoicing.preview import preview_month
from billing.invoicing.recurring import issue_month
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import states_for
from billing.models import (
    Allocation,
    AuditEvent,
    BankTransaction,
    CashReceipt,
    DocumentSeries,
    Invoice,
    InvoiceLine,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
)
from billing.unpairing import unassign
from core.clock import today


def issue(session, customer, supplier, lines, *, days_ago=30, include_vat=True):
    issued = today() - timedelta(days=days_ago)
    return issue_invoice(
        session, customer,
        [LineInput(desc, D(q), D(p), D(rate), unit) for desc, q, p, rate, unit in lines],
        supplier, IssueOptions(issue_date=issued, due_date=issued + timedelta(days=14),
                               prices_include_vat=include_vat),
    )


def legs(session, **where):
    """{account key: amount} of the one ledger transaction matching ``where``."""
    (tx,) = session.scalars(select(LedgerTransaction).filter_by(**where)).all()
    rows = session.execute(
        select(LedgerAccount.key, LedgerLeg.amount)
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerLeg.transaction_id == tx.id)).all()
    return tx, dict(rows)


def account_balance(session, key):
    return session.scalar(
        select(func.coalesce(func.sum(LedgerLeg.amount), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerAccount.key == key))


def snapshot(session):
    """Everything a money act writes, counted."""
    tables = (Invoice, InvoiceLine, LedgerTransaction, LedgerLeg, CashReceipt, BankTransaction,
              Allocation, AuditEvent)
    counts = {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in tables}
    counts["series"] = sorted(session.execute(
        select(DocumentSeries.key, DocumentSeries.last_value)).all())
    return counts


def recap(doc):
    return [(str(r.rate.normalize()), r.base, r.vat, r.total) for r in doc.vat_recap]


# -- credit notes -------------------------------------------------------------------------

# (invoice lines (description, quantity, unit price, rate, unit), prices with VAT?,
#  credit notes in order [(line positions -> None | ("q", quantity) | ("a", amount))],
#  expected recap of each credit note [(rate, base, VAT, total)])
CREDIT_CASES = {
    "whole invoice, 21 %": (
        [("Výjezd technika", "1", "605.00", "21", "ks")], True,
        [{1: None}],
        [[("21", D("-500.00"), D("-105.00"), D("-605.00"))]],
    ),
    "whole invoice, 12 %, rounding": (
        [("Kniha", "3", "33.33", "12", "ks")], True,
        [{1: None}],
        [[("12", D("-89.28"), D("-10.71"), D("-99.99"))]],
    ),
    "both rates, some lines": (
        [("Router", "1", "1210.00", "21", "ks"), ("Kabel", "2", "49.90", "12", "m"),
         ("Montáž", "1", "363.00", "21", "h")], True,
        [{1: None, 2: ("q", "1")}],
        # 12 %: 99.80 had VAT 10.69; 49.90 left has 5.35: the difference is -5.34
        [[("21", D("-1000.00"), D("-210.00"), D("-1210.00")),
          ("12", D("-44.56"), D("-5.34"), D("-49.90"))]],
    ),
    "part of a line's amount": (
        [("Internet 100 – prosinec", "1", "450.00", "21", "měs.")], True,
        [{1: ("a", "100.00")}],
        # 450.00 had VAT 78.10; 350.00 left has 60.74
        [[("21", D("-82.64"), D("-17.36"), D("-100.00"))]],
    ),
    "two lines credited one by one: the VAT adds up to the invoice's": (
        [("A", "1", "100.00", "21", "ks"), ("B", "1", "100.00", "21", "ks")], True,
        [{1: None}, {2: None}],
        # 200.00 had VAT 34.71 (each 100.00 alone would be 17.36)
        [[("21", D("-82.65"), D("-17.35"), D("-100.00"))],
         [("21", D("-82.64"), D("-17.36"), D("-100.00"))]],
    ),
    "prices without VAT, part of a line, then the rest": (
        [("Hosting", "1", "500.00", "21", "rok")], False,
        [{1: ("a", "200.00")}, {1: None}],
        [[("21", D("-200.00"), D("-42.00"), D("-242.00"))],
         [("21", D("-300.00"), D("-63.00"), D("-363.00"))]],
    ),
    "quantities of a line in two notes, 12 %": (
        [("Nápoj", "7", "13.13", "12", "ks")], True,
        [{1: ("q", "3")}, {1: ("q", "4")}],
        # 91.91 had VAT 9.85; 52.52 left has 5.63 -> -4.22; then 0 left -> -5.63
        [[("12", D("-35.17"), D("-4.22"), D("-39.39"))],
         [("12", D("-46.89"), D("-5.63"), D("-52.52"))]],
    ),
}


def _selection(invoice, spec):
    by_position = {ln.position: ln for ln in invoice.lines}
    out = []
    for position, how in spec.items():
        line = by_position[position]
        if how is None:
            out.append(CreditLine(line.id))
        elif how[0] == "q":
            out.append(CreditLine(line.id, quantity=D(how[1])))
        else:
            out.append(CreditLine(line.id, amount=D(how[1])))
    return out


@pytest.mark.parametrize("case", CREDIT_CASES.values(), ids=list(CREDIT_CASES))
def test_credit_notes_to_the_haler(session, make_customer, supplier, case):
    lines, include_vat, notes, expected = case
    customer = make_customer()
    invoice = issue(session, customer, supplier, lines, include_vat=include_vat)
    session.commit()
    issued = []
    for spec, want in zip(notes, expected, strict=True):
        note = credit_invoice(session, invoice, _selection(invoice, spec), supplier,
                              "reklamace", actor="operator:anna")
        session.commit()
        issued.append(note)
        assert note.kind == "credit_note" and note.corrects_invoice_id == invoice.id
        assert note.correction_reason == "reklamace"
        assert recap(note) == [(rate, base, vat, total) for rate, base, vat, total in want]
        assert note.total_net == sum(r.base for r in note.vat_recap)
        assert note.total_vat == sum(r.vat for r in note.vat_recap)
        assert note.total == note.total_net + note.total_vat
        for r in note.vat_recap:  # the lines add up to the recap of their rate
            rate_lines = [ln for ln in note.lines if ln.vat_rate == r.rate]
            assert sum(ln.net for ln in rate_lines) == r.base
            assert sum(ln.vat for ln in rate_lines) == r.vat
            assert sum(ln.gross for ln in rate_lines) == r.total
        assert all(ln.corrects_line_id in {x.id for x in invoice.lines} for ln in note.lines)
        tx, posted = legs(session, invoice_id=note.id)
        assert tx.kind == "credit_note" and tx.actor == "operator:anna"
        assert sum(posted.values()) == 0
        assert posted[f"prepaid_credit:{customer.id}"] == note.total
        assert posted["revenue"] == -note.total_net
        assert posted["output_vat"] == -note.total_vat
    # whatever is fully credited leaves exactly nothing of its rate: base and VAT alike
    left = line_remainders(session, invoice)
    for r in invoice.vat_recap:
        credited = [x for n in issued for x in n.vat_recap if x.rate == r.rate]
        rate_left = sum(left[ln.id] for ln in invoice.lines if ln.vat_rate == r.rate)
        if rate_left == 0:
            assert r.vat + sum(x.vat for x in credited) == 0
            assert r.base + sum(x.base for x in credited) == 0


def test_credit_note_pdf_cites_the_invoice_and_the_reason(session, make_customer, supplier,
                                                          tmp_path):
    customer = make_customer(name="Pavel Novák")
    invoice = issue(session, customer, supplier, [("Router", "1", "1210.00", "21", "ks"),
                                                  ("Kabel", "2", "49.90", "12", "m")],
                    days_ago=40)
    session.commit()
    note = credit_invoice(session, invoice, _selection(invoice, {1: None, 2: ("q", "1")}),
                          supplier, "Router vrácen v záruce", actor="operator:anna")
    session.commit()
    pdf = tmp_path / "cn.pdf"
    pdf.write_bytes(render_invoice_pdf(note, states_for(session, [note], today())[0].open_amount))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    nb = "\u00a0"
    issued = invoice.issue_date
    assert f"Opravný daňový doklad (dobropis) č. {note.number}" in text
    assert f"Opravuje doklad č.: {invoice.number}" in " ".join(text.split())
    assert f"Ze dne: {issued.day}.{nb}{issued.month}.{nb}{issued.year}".replace(nb, " ") in \
        " ".join(text.replace(nb, " ").split())
    assert "Důvod opravy: Router vrácen v záruce" in " ".join(text.split())
    flat = " ".join(text.replace(nb, " ").split())
    assert "12 % -44,56 Kč -5,34 Kč -49,90 Kč" in flat
    assert "21 % -1 000,00 Kč -210,00 Kč -1 210,00 Kč" in flat
    assert "Součet -1 044,56 Kč -215,34 Kč -1 259,90 Kč" in flat
    assert "Rozdíl DPH" in flat


def test_credit_note_refusals_change_nothing(session, make_customer, supplier):
    customer, other = make_customer(), make_customer()
    invoice = issue(session, customer, supplier, [("Router", "1", "1210.00", "21", "ks"),
                                                  ("Kabel", "2", "49.90", "12", "m")])
    foreign = issue(session, other, supplier, [("Internet", "1", "450.00", "21", "ks")])
    session.commit()
    first = credit_invoice(session, invoice, [CreditLine(invoice.lines[0].id)], supplier,
                           "vrácen", actor="operator:anna")
    advance = issue_invoice(session, customer, [LineInput("Záloha", D(1), D("1000.00"))],
                            supplier, IssueOptions(kind="advance"))
    session.commit()
    router, cable = invoice.lines
    before = snapshot(session)
    refused = [
        (first, [CreditLine(first.lines[0].id)], "cannot be corrected"),  # a credit note
        (advance, [CreditLine(advance.lines[0].id)], "cannot be corrected"),
        (invoice, [CreditLine(router.id)], "credited in full"),
        (invoice, [CreditLine(cable.id, quantity=D("3"))], "more than the 99.80 left"),
        (invoice, [CreditLine(cable.id, amount=D("99.81"))], "more than the 99.80 left"),
        (invoice, [CreditLine(cable.id, amount=D("0"))], "must be positive"),
        (invoice, [CreditLine(cable.id, amount=D("1.005"))], "haléře"),
        (invoice, [CreditLine(cable.id, quantity=D("-1"))], "must be positive"),
        (invoice, [CreditLine(cable.id), CreditLine(cable.id)], "given twice"),
        (invoice, [CreditLine(foreign.lines[0].id)], "is not a line of invoice"),
        (invoice, [], "at least one line"),
    ]
    for target, selection, message in refused:
        with pytest.raises(InvoicingError, match=message):
            credit_invoice(session, target, selection, supplier, "důvod", actor="operator:anna")
        assert snapshot(session) == before
    with pytest.raises(InvoicingError, match="reason"):
        credit_invoice(session, invoice, [CreditLine(cable.id)], supplier, "  ", actor="x")
    # the older interface keeps its total check, and now wants a reason too
    with pytest.raises(InvoicingError, match="exceed"):
        issue_credit_note(session, invoice, [LineInput("x", D(-1), D("100.00"))], supplier, "x")
    with pytest.raises(InvoicingError, match="reason"):
        issue_credit_note(session, invoice, [LineInput("x", D(-1), D("1.00"))], supplier, "")
    assert snapshot(session) == before


def test_a_credit_note_first_pays_the_invoice_it_corrects(session, make_customer, supplier):
    customer = make_customer()
    old = issue(session, customer, supplier, [("Internet", "1", "450.00", "21", "ks")],
                days_ago=60)
    invoice = issue(session, customer, supplier, [("Router", "1", "1210.00", "21", "ks")])
    session.commit()
    credit_invoice(session, invoice, [CreditLine(invoice.lines[0].id, amount=D("210.00"))],
                   supplier, "sleva", actor="operator:anna")
    session.commit()
    old_state, state = states_for(session, [old, invoice], today())
    assert old_state.open_amount == D("450.00")
    assert state.open_amount == D("1000.00")
    assert ledger.balance(session, customer.id) == D("-1450.00")


# -- cash payments ------------------------------------------------------------------------

# (open invoices (amount, days ago), cash, the invoice chosen (index) or None,
#  expected: what each invoice gets, credit left)
CASH_CASES = {
    "pays the oldest first, partly the next": (
        [("605.00", 60), ("450.00", 30)], "800", None, [D("605.00"), D("195.00")], D("0.00")),
    "exactly everything": (
        [("605.00", 60), ("450.00", 30)], "1055", None, [D("605.00"), D("450.00")], D("0.00")),
    "an overpayment stays as credit": (
        [("399.50", 40)], "500", None, [D("399.50")], D("100.50")),
    "nothing open: all credit": ([], "300", None, [], D("300.00")),
    "the chosen invoice first": (
        [("605.00", 60), ("450.00", 30)], "500", 1, [D("50.00"), D("450.00")], D("0.00")),
}


@pytest.mark.parametrize("case", CASH_CASES.values(), ids=list(CASH_CASES))
def test_cash_payments_to_the_haler(session, make_customer, supplier, case):
    opened, cash, chosen, expected, credit = case
    customer = make_customer(number="6100")
    invoices = [issue(session, customer, supplier, [("Internet", "1", amount, "21", "ks")],
                      days_ago=days) for amount, days in opened]
    session.commit()
    till_before = account_balance(session, "cash")
    done = take_cash_payment(session, customer, cash, supplier, actor="operator:anna",
                             invoice=invoices[chosen] if chosen is not None else None)
    session.commit()
    receipt = done.receipt
    assert receipt.number == f"PPD{today().year}000001"
    assert receipt.amount == D(cash) and receipt.received_by == "operator:anna"
    paid = dict(done.paid)
    assert [paid.get(inv.number, D("0.00")) for inv in invoices] == expected
    assert done.credit == credit
    states = states_for(session, invoices, today())
    for inv, state in zip(invoices, states, strict=True):
        assert state.paid == paid.get(inv.number, D("0.00"))
    # the ledger: the till to the customer's credit, then the allocations; every one balanced
    tx, posted = legs(session, kind="payment", customer_id=customer.id)
    assert posted == {"cash": D(cash), f"prepaid_credit:{customer.id}": -D(cash)}
    assert tx.actor == "operator:anna" and tx.reference == receipt.number
    for t in session.scalars(select(LedgerTransaction)):
        assert session.scalar(select(func.sum(LedgerLeg.amount))
                              .where(LedgerLeg.transaction_id == t.id)) == 0
    assert account_balance(session, "cash") - till_before == D(cash)
    owed = sum((D(a) for a, _ in opened), D("0.00"))
    assert ledger.balance(session, customer.id) == D(cash) - owed
    # the receipt says what it paid
    for number, amount in done.paid:
        assert f"úhrada faktury {number}: {amount:,.2f}".replace(",", "\u00a0").replace(
            ".", ",") in receipt.purpose
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.cash"))
    assert event.actor == "operator:anna" and event.new_value == receipt.number
    assert json.loads(event.details)["amount"] == f"{D(cash):.2f}"


def test_cash_receipt_pdf(session, make_customer, supplier, tmp_path):
    customer = make_customer(number="6200", name="Pavel Novák")
    issue(session, customer, supplier, [("Internet", "1", "1234.50", "21", "ks")])
    session.commit()
    done = take_cash_payment(session, customer, "1500", supplier, actor="operator:anna",
                             note="zaplaceno na pobočce")
    session.commit()
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_cash_receipt_pdf(done.receipt))
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                                   text=True, check=True).stdout.replace("\u00a0", " ").split())
    assert f"Příjmový pokladní doklad č. {done.receipt.number}" in text
    assert "Částka: 1 500,00 Kč" in text
    assert "Pavel Novák" in text and "Zákaznické číslo: 6200" in text
    assert "v hotovosti" in text and "Přijal: anna" in text
    assert "úhrada faktury" in text and "1 234,50 Kč" in text
    assert "kredit na další platby: 265,50 Kč" in text
    assert "zaplaceno na pobočce" in text
    assert supplier.name in text and f"IČO: {supplier.ico}" in text


def test_cash_refusals_change_nothing(session, make_customer, supplier):
    customer, other = make_customer(number="6300"), make_customer(number="6301")
    invoice = issue(session, customer, supplier, [("Internet", "1", "450.00", "21", "ks")])
    paid = issue(session, customer, supplier, [("Router", "1", "100.00", "21", "ks")],
                 days_ago=90)
    foreign = issue(session, other, supplier, [("Internet", "1", "450.00", "21", "ks")])
    session.commit()
    take_cash_payment(session, customer, "200000", supplier, actor="operator:anna",
                      invoice=paid)
    note = credit_invoice(session, invoice, [CreditLine(invoice.lines[0].id, amount=D("50.00"))],
                          supplier, "sleva", actor="operator:anna")
    session.commit()
    before = snapshot(session)
    refused = [
        (customer, "0", None, CashPaymentError, "positive"),
        (customer, "-100", None, CashPaymentError, "positive"),
        (customer, "100.50", None, CashPaymentError, "whole crowns"),
        (customer, "abc", None, CashPaymentError, "not an amount"),
        (customer, "NaN", None, CashPaymentError, "not an amount"),
        (customer, "1e3", None, CashPaymentError, "not an amount"),
        (customer, "1_000", None, CashPaymentError, "not an amount"),
        (customer, "\u0663", None, CashPaymentError, "not an amount"),
        (customer, "270001", None, CashLimitError, "254/2004"),
        (customer, "70001", None, CashLimitError, "paid 200,000.00 Kč in cash today"),
        (None, "100", None, CashPaymentError, "no such customer"),
        (customer, "100", foreign, CashPaymentError, "not customer 6300's"),
        (customer, "100", note, CashPaymentError, "credit note"),
        (customer, "100", paid, CashPaymentError, "is paid"),
    ]
    for who, amount, target, error, message in refused:
        with pytest.raises(error, match=message):
            take_cash_payment(session, who, amount, supplier, actor="operator:anna",
                              invoice=target)
        assert snapshot(session) == before
    # the day's limit is the payer's: up to it is taken
    take_cash_payment(session, customer, "70000", supplier, actor="operator:anna")
    session.commit()


def test_a_cash_payment_is_not_unpaired_like_a_bank_one(session, make_customer, supplier):
    customer = make_customer()
    issue(session, customer, supplier, [("Internet", "1", "450.00", "21", "ks")])
    done = take_cash_payment(session, customer, "450", supplier, actor="operator:anna")
    session.commit()
    tx = session.get(BankTransaction, done.receipt.bank_transaction_id)
    before = snapshot(session)
    with pytest.raises(PairingError, match="cash payment"):
        unassign(session, tx, actor="operator:anna", reason="omyl")
    assert snapshot(session) == before


def test_cash_on_an_advance_invoice_gets_its_tax_document(session, make_customer, supplier):
    from billing.invoicing.receipts import issue_receipts

    customer = make_customer()
    issue_invoice(session, customer, [LineInput("Záloha na router", D(1), D("1210.00"))],
                  supplier, IssueOptions(kind="advance"))
    take_cash_payment(session, customer, "1210", supplier, actor="operator:anna")
    (receipt,) = issue_receipts(session, actor="operator:anna")
    assert receipt.total == D("1210.00") and receipt.total_vat == D("210.00")


# -- one-off invoices ---------------------------------------------------------------------


def test_one_off_invoice(session, make_customer, supplier):
    customer = make_customer()
    invoice = issue_one_off(
        session, customer,
        [OneOffLine("Výjezd technika", "1", "605"), OneOffLine("Kabel", "2,5", "49,90", "12", "m")],
        supplier, actor="operator:anna", kind="goods", due_days=7)
    session.commit()
    assert invoice.kind == "goods" and invoice.due_date == today() + timedelta(days=7)
    assert recap(invoice) == [("21", D("500.00"), D("105.00"), D("605.00")),
                              ("12", D("111.38"), D("13.37"), D("124.75"))]
    _tx, posted = legs(session, invoice_id=invoice.id)
    assert posted == {f"receivable:{customer.id}": D("729.75"), "revenue": D("-611.38"),
                      "output_vat": D("-118.37")}
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "invoice.issued"))
    assert event.actor == "operator:anna"


@pytest.mark.parametrize(("line", "message"), [
    (OneOffLine("", "1", "100"), "line 2: the description is empty"),
    (OneOffLine("X", "0", "100"), "line 2: the quantity must be positive"),
    (OneOffLine("X", "1", "0"), "line 2: the unit price is zero"),
    (OneOffLine("X", "1", "1.001"), "line 2: the unit price must be in haléře"),
    (OneOffLine("X", "1", "100", "15"), "line 2: VAT rate 15 %"),
    (OneOffLine("X", "jedna", "100"), "line 2: the quantity 'jedna' is not a number"),
    (OneOffLine("Sleva", "1", "-700"), "positive total"),
])
def test_one_off_refusals_change_nothing(session, make_customer, supplier, line, message):
    customer = make_customer()
    before = snapshot(session)
    with pytest.raises(InvoicingError, match=message):
        issue_one_off(session, customer, [OneOffLine("Výjezd", "1", "605"), line], supplier,
                      actor="operator:anna")
    session.rollback()
    assert snapshot(session) == before


# -- the monthly run's preview ------------------------------------------------------------


def test_preview_equals_the_run_and_writes_nothing(session, make_customer, supplier):
    from billing.models import Service

    for n in range(4):
        make_customer(internet_ip=f"10.8.0.{n + 1}")
    late = make_customer(internet_ip="10.8.0.9")
    late.services[0].valid_from = today().replace(day=1) + timedelta(days=40)
    tv = late.services[0]
    session.add(Service(customer_id=tv.customer_id, contract_id=tv.contract_id, kind="other",
                        name="Veřejná IP", price=D("121.00"), vat_rate=D("21"),
                        valid_from=tv.valid_from))
    session.commit()
    session.expire_all()  # a fresh look, as a new request or command has
    first = (today().replace(day=1) + timedelta(days=40)).replace(day=1)
    month = f"{first:%Y-%m}"
    before = snapshot(session)
    preview = preview_month(session, month, today())
    assert not session.new and not session.dirty
    session.rollback()
    assert snapshot(session) == before
    run = issue_month(session, supplier, month, actor="test", on=today())
    session.commit()
    assert [p.customer_number for p in preview.invoices] == \
        [session.get(type(late), i.customer_id).customer_number for i in run.issued]
    assert [p.total for p in preview.invoices] == [i.total for i in run.issued]
    assert preview.total == sum(i.total for i in run.issued)
    assert preview.total_vat == sum(i.total_vat for i in run.issued)
    for rate in preview.by_rate():
        assert rate.vat == sum(r.vat for i in run.issued for r in i.vat_recap if r.rate == rate.rate)
    again = preview_month(session, month, today())
    assert again.invoices == [] and again.already_invoiced == len(run.issued)
    with pytest.raises(ValueError, match="YYYY-MM"):
        preview_month(session, "2027/01", today())


# -- resending an e-mail ------------------------------------------------------------------


def test_resend_invoice_email(app, session, make_customer, supplier, outbox):
    from billing.jobs import resend_invoice_email

    customer = make_customer(email="jana@example.cz")
    silent = make_customer(email=None)
    invoice = issue(session, customer, supplier, [("Internet", "1", "450.00", "21", "ks")])
    other = issue(session, silent, supplier, [("Internet", "1", "450.00", "21", "ks")])
    session.commit()
    sent = []

    def send(to, template, **context):
        sent.append((to, template, [a[0] for a in context["attachments"]]))
        return True

    sessions = app.extensions["ispzone.sessions"]
    report = resend_invoice_email(sessions, invoice.id, send, actor="operator:anna")
    assert report.sent == 1
    assert sent == [("jana@example.cz", "invoice_issued", [f"faktura-{invoice.number}.pdf"])]
    session.expire_all()
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "invoice.email_resent"))
    assert event.actor == "operator:anna" and event.new_value == invoice.number
    assert json.loads(event.details) == {"to": "jana@example.cz", "sent": True}
    with pytest.raises(InvoicingError, match="no e-mail address"):
        resend_invoice_email(sessions, other.id, send, actor="operator:anna")
    assert len(sent) == 1


# -- the commands -------------------------------------------------------------------------


def cli(app, *args, code=0):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def test_money_commands(app, session, make_customer, supplier, outbox, tmp_path):
    customer = make_customer(number="6500", email="pavel@example.cz")
    make_customer(number="6501", internet_ip="10.8.1.1")
    session.commit()
    out = cli(app, "invoices", "one-off", "6500", "--line", "Výjezd technika;1;605",
              "--line", "Kabel;2;49,90;12;m")
    number = out.split()[1]
    assert f"invoice {number} issued: 704.80 CZK" in out and "e-mailed" in out
    assert len(outbox.messages()) == 1
    assert "line 1: VAT rate 10 %" in cli(app, "invoices", "one-off", "6500", "--line",
                                          "X;1;100;10", code=1)
    out = cli(app, "invoices", "credit-note", number, "--reason", "vráceno", "--line", "2=1")
    assert "credit note" in out and "-49.90 CZK" in out
    assert "credited in full" not in out
    assert "more than the 49.90 left" in cli(app, "invoices", "credit-note", number, "--reason",
                                             "x", "--line", "2=2", code=1)
    out = cli(app, "invoices", "credit-note", number, "--reason", "storno", "--all", "--no-email")
    assert "-654.90 CZK" in out
    out = cli(app, "payments", "cash", "6500", "1000", "--receipt", str(tmp_path / "r.pdf"))
    assert f"cash receipt PPD{today().year}000001: kredit na další platby: 1 000,00 Kč" in out
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert "whole crowns" in cli(app, "payments", "cash", "6500", "10,50", code=1)
    assert "no customer 9999" in cli(app, "payments", "cash", "9999", "10", code=1)
    assert "e-mailed again" in cli(app, "invoices", "resend", number)
    assert len(outbox.messages()) == 3  # the invoice, the first credit note, the resend
    credit_mail = outbox.messages()[1]
    assert credit_mail["Subject"].startswith("Opravný daňový doklad")
    body = credit_mail.get_body(("plain",)).get_content()
    assert "Důvod: vráceno" in body and "49,90" in body and "splatn" not in body
    assert outbox.messages()[0]["Subject"].startswith("Faktura")
    out = cli(app, "invoices", "preview", "--month", f"{today():%Y-%m}")
    assert "6501" in out and "1 invoices would be issued (450.00 CZK)" in out
    assert "month must be YYYY-MM" in cli(app, "invoices", "preview", "--month", "leden", code=1)
    cli(app, "invoices", "pdf", number, str(tmp_path / "i.pdf"))
    assert (tmp_path / "i.pdf").read_bytes().startswith(b"%PDF")
    session.expire_all()
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
               if e.customer_id == customer.id]
    assert actions.count("invoice.issued") == 3
    assert "payment.cash" in actions and "invoice.email_resent" in actions
