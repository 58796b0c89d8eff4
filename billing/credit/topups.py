"""Topping up the credit (docs/credit.md, "Top-up").

1. :func:`request_topup`: the customer asks for an amount WITHOUT VAT (at least the
   minimum); a payment request (an advance invoice, not a tax document) is issued WITH
   VAT, paid by transfer (its QR Platba) like any invoice.
2. A payment to the account's permanent VS (a standing order) is not a customer's or
   contract's symbol, so pairing leaves it unmatched; :func:`pair_credit_symbols` finds it,
   issues a request for the gross amount received (VAT computed from the gross) and pairs
   the payment to it.
3. The payment settles the request; billing.invoicing.receipts issues the tax document for
   the received payment; :func:`book_receipts` then books each such receipt's base (the
   amount without VAT) to the credit, once, and queues the e-mail with the new balance.

:func:`receipts_and_credit` runs 2, the receipts and 3 in order: after every statement
import and assignment (billing.jobs.issue_receipts_after_pairing) and daily.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.credit.accounts import (
    CreditConflict,
    CreditError,
    CreditSettings,
    credit_balances,
    lock_account,
)
from billing.credit.mail import queue
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput, money
from billing.ledger import postings
from billing.models import (
    AccountKind,
    BankTransaction,
    BankTransactionStatus,
    Customer,
    Invoice,
    InvoiceKind,
    TaxReceipt,
)
from billing.models import TransactionKind as TK
from billing.models.credit import CreditAccount, CreditReceipt, CreditTopUp
from core import audit
from core.clock import now, today
from core.i18n import _l
from core.i18n import money as shown_money

A = AccountKind
ZERO = Decimal("0.00")
REVERSE_CHARGE_NOTE = "Daň odvede zákazník (§ 92a / čl. 196 směrnice 2006/112/ES)"


def reverse_charge(customer: Customer) -> bool:
    """A VAT payer registered in another EU member state (a company with a foreign DIČ):
    the place of supply of our services is its country and the customer pays the VAT
    (reverse charge; docs/facts/credit-vat-payers.md), so its request carries no Czech VAT.
    A Czech VAT payer pays Czech VAT like anyone."""
    dic = (customer.dic or "").strip().upper()
    return bool(customer.is_company and dic and (customer.country or "CZ").upper() != "CZ"
                and not dic.startswith("CZ"))


def _rate(customer: Customer, settings: CreditSettings) -> Decimal:
    return Decimal("0") if reverse_charge(customer) else settings.vat_rate


def _format(amount: Decimal, currency: str) -> str:
    text = f"{amount:,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} {'Kč' if currency == 'CZK' else currency}"


def request_topup(session: Session, customer: Customer, amount_net, *, supplier: Supplier,
                  settings: CreditSettings, actor: str, on: date | None = None) -> Invoice:
    """Issue a payment request topping up the credit by ``amount_net`` (without VAT).

    Refused before anything is written: no open credit account, an amount under the
    minimum (``settings.minimum``) or with more than two decimals."""
    try:
        amount_net = Decimal(amount_net)
    except ArithmeticError:
        raise CreditError(_l("the top-up amount is not a number")) from None
    if amount_net != amount_net.quantize(Decimal("0.01")) or not amount_net.is_finite():
        raise CreditError(_l("the top-up amount has at most two decimal places"))
    account = lock_account(session, customer.id)
    if account is None or account.closed_at is not None:
        raise CreditConflict(_l("the customer has no open credit account"))
    minimum = settings.minimum(account.currency)
    if amount_net < minimum:
        raise CreditError(_l(
            "the smallest top-up is %(minimum)s without VAT; %(asked)s was asked for (nothing "
            "was created)", minimum=shown_money(minimum, account.currency,
                                      text=_format(minimum, account.currency)),
            asked=shown_money(amount_net, account.currency, text=_format(amount_net, account.currency))))
    if amount_net >= Decimal("100000000"):
        raise CreditError(_l("the top-up amount is too large"))
    return _issue_request(session, customer, account, amount_net, prices_include_vat=False,
                          supplier=supplier, settings=settings, actor=actor, on=on)


def _issue_request(session: Session, customer: Customer, account: CreditAccount, amount: Decimal,
                   *, prices_include_vat: bool, supplier: Supplier, settings: CreditSettings,
                   actor: str, on: date | None, bank_transaction_id: int | None = None) -> Invoice:
    on = on or today()
    rate = _rate(customer, settings)
    note = "Výzva k platbě: dobití kreditu. Není daňovým dokladem."
    if rate == 0:
        note += " " + REVERSE_CHARGE_NOTE
    invoice = issue_invoice(
        session, customer,
        [LineInput("Dobití kreditu", Decimal("1"), amount, rate)],
        supplier,
        IssueOptions(kind=InvoiceKind.ADVANCE.value, issue_date=on,
                     due_date=on + timedelta(days=settings.topup_due_days),
                     prices_include_vat=prices_include_vat, note=note, actor=actor,
                     currency=account.currency),
    )
    session.add(CreditTopUp(account_id=account.id, invoice_id=invoice.id,
                            amount_net=invoice.total_net, bank_transaction_id=bank_transaction_id,
                            created_at=now(), created_by=actor))
    session.flush()
    audit.record(session, "credit.topup_requested", actor=actor, customer_id=customer.id,
                 new_value=invoice.number,
                 details={"amount_net": str(invoice.total_net), "total": str(invoice.total),
                          "currency": account.currency, "standing_order": bank_transaction_id})
    return invoice


# -- payments to the permanent VS ----------------------------------------------------------


def pair_credit_symbols(session: Session, *, supplier: Supplier, settings: CreditSettings,
                        actor: str) -> int:
    """Incoming payments left unmatched whose VS is an open credit account's, in its
    currency: each gets a request for its gross amount and is paired to it. Returns how
    many."""
    from billing.bank.pairing import book_payments, settle

    rows = session.execute(
        select(BankTransaction, CreditAccount)
        .join(CreditAccount, CreditAccount.variable_symbol
              == func.ltrim(BankTransaction.variable_symbol, "0"))
        .where(BankTransaction.status == BankTransactionStatus.UNMATCHED,
               BankTransaction.amount > 0, BankTransaction.duplicate_of.is_(None),
               BankTransaction.currency == CreditAccount.currency,
               CreditAccount.closed_at.is_(None))
        .order_by(BankTransaction.booked_on, BankTransaction.id)
    ).all()
    done = 0
    for tx, account in rows:
        customer = session.get(Customer, account.customer_id)
        invoice = _issue_request(session, customer, account, money(tx.amount),
                                 prices_include_vat=True, supplier=supplier, settings=settings,
                                 actor=actor, on=tx.booked_on, bank_transaction_id=tx.id)
        tx.status, tx.customer_id = BankTransactionStatus.MATCHED.value, customer.id
        session.flush()
        book_payments(session, [(tx, customer.id)], actor)
        settle(session, [customer.id], {("tx", tx.id): invoice.id}, actor=actor)
        done += 1
    return done


# -- receipts booked to the credit ------------------------------------------------------------


def book_receipts(session: Session, *, actor: str, on: date | None = None) -> list[CreditReceipt]:
    """Book every tax document for a payment received on a top-up request that is not
    booked yet: the credit grows by its base (without VAT); the e-mail is queued."""
    on = on or today()
    rows = session.execute(
        select(TaxReceipt, CreditTopUp.account_id, CreditAccount.customer_id,
               CreditAccount.currency)
        .join(CreditTopUp, CreditTopUp.invoice_id == TaxReceipt.advance_invoice_id)
        .join(CreditAccount, CreditAccount.id == CreditTopUp.account_id)
        .outerjoin(CreditReceipt, CreditReceipt.receipt_id == TaxReceipt.id)
        # a receipt corrected before it was booked (its payment cancelled) tops up nothing
        .where(CreditReceipt.id.is_(None), ~TaxReceipt.correction.has())
        .order_by(TaxReceipt.id)
    ).all()
    if not rows:
        return []
    booked, posts = [], []
    key = postings.account_key
    for receipt, account_id, customer_id, _currency in rows:
        booked.append(CreditReceipt(account_id=account_id, receipt_id=receipt.id,
                                    amount=receipt.total_net, booked_on=receipt.received_on,
                                    created_at=now()))
        posts.append(postings.Posting(
            TK.CREDIT_TOPUP,
            [(key(A.ADVANCES), receipt.total), (key(A.OUTPUT_VAT), -receipt.total_vat),
             (key(A.CREDIT, customer_id), -receipt.total_net)],
            booked_on=receipt.received_on, actor=actor,
            description=f"Dobití kreditu: daňový doklad {receipt.number}",
            customer_id=customer_id, invoice_id=receipt.advance_invoice_id,
            reference=f"receipt:{receipt.id}",
        ))
    session.add_all(booked)
    session.flush()
    postings.record(session, posts)
    balances = credit_balances(session, [row[2] for row in rows])
    for (receipt, _account_id, customer_id, currency), _row in zip(rows, booked, strict=True):
        audit.record(session, "credit.topped_up", actor=actor, customer_id=customer_id,
                     new_value=str(receipt.total_net),
                     details={"receipt": receipt.number, "balance": str(balances[customer_id])})
        queue(session, customer_id, "credit_topped_up", amount=str(receipt.total_net),
              total=str(receipt.total), currency=currency, receipt=receipt.number,
              receipt_id=receipt.id, balance=str(balances[customer_id]))
    return booked


def receipts_and_credit(session: Session, on: date | None = None, *, actor: str,
                        supplier: Supplier | None = None,
                        settings: CreditSettings | None = None) -> list[TaxReceipt]:
    """Pair payments to the permanent VS, issue the missing tax documents for received
    advance payments, book the top-ups' ones to the credit, renew the services whose renewal
    requests are paid now (billing.credit.renewals.complete_paid_orders). Returns the new
    receipts.

    Without a ``supplier`` (whose details a top-up request prints) the payments to a
    permanent VS wait for the next caller that gives one (the import command, the daily
    job)."""
    from billing.invoicing.receipts import issue_receipts

    if supplier is not None:
        pair_credit_symbols(session, supplier=supplier, settings=settings or CreditSettings(),
                            actor=actor)
    issued = issue_receipts(session, on, actor=actor)
    book_receipts(session, actor=actor, on=on)
    # a renewal request paid now renews its service now (an expired one is let in at once)
    from billing.credit.renewals import complete_paid_orders

    complete_paid_orders(session, actor=actor, on=on)
    return issued


def daily_step(session: Session, ctx) -> dict:
    issued = receipts_and_credit(session, ctx.on, actor=ctx.actor, supplier=ctx.supplier,
                                 settings=ctx.settings)
    return {"receipts": len(issued)}
