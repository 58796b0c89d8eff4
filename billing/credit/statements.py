"""Statements of the credit (docs/credit.md, "Statements"): the movements of a period from
the ledger (every leg on the account ``credit:<customer>``), the monthly statement
(vyúčtování) as a PDF, and the CSV export for any period (UTF-8 with a BOM, ``;``, Czech
decimal commas: Czech Excel opens it as it is).

The daily step records the previous month's statement of every open account on the first
days of a month (one row per account and month, set-based); the credit's mailer sends each
with its PDF attached (``credit_statement.mailed_at``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select, text, type_coerce
from sqlalchemy.orm import Session

from billing.credit.accounts import account_of
from billing.models import AccountKind, Customer, LedgerAccount, LedgerLeg, LedgerTransaction
from billing.models.credit import CreditAccount, CreditStatement
from core.clock import PRAGUE, now
from core.db import Money

ZERO = Decimal("0.00")
KIND_LABELS = {
    "credit_topup": ("Dobití", "Top-up"),
    "credit_payment": ("Úhrada z kreditu", "Paid from credit"),
    "credit_refund": ("Vrácení kreditu", "Credit refunded"),
    "reversal": ("Storno", "Reversal"),
}


@dataclass(frozen=True)
class Movement:
    booked_on: date
    kind: str
    description: str
    amount: Decimal  # + into the credit, - out of it
    balance: Decimal  # the credit after it
    transaction_id: int

    def label(self, lang: str = "cs") -> str:
        cs, en = KIND_LABELS.get(self.kind, (self.kind, self.kind))
        return en if lang == "en" else cs


@dataclass(frozen=True)
class Period:
    customer_id: int
    currency: str
    start: date
    end: date  # inclusive
    opening: Decimal
    movements: list[Movement]

    @property
    def closing(self) -> Decimal:
        return self.movements[-1].balance if self.movements else self.opening

    @property
    def credited(self) -> Decimal:
        return sum((m.amount for m in self.movements if m.amount > 0), ZERO)

    @property
    def debited(self) -> Decimal:
        return sum((-m.amount for m in self.movements if m.amount < 0), ZERO)


def _credit_legs(customer_id: int):
    return (
        select(LedgerTransaction.id, LedgerTransaction.booked_on, LedgerTransaction.kind,
               LedgerTransaction.description,
               type_coerce(-LedgerLeg.amount, Money()).label("amount"))
        .join(LedgerLeg, LedgerLeg.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerAccount.kind == str(AccountKind.CREDIT),
               LedgerAccount.customer_id == customer_id)
    )


def period(session: Session, customer_id: int, start: date, end: date) -> Period:
    """The credit movements from ``start`` to ``end`` (both included), with the balance
    before and after each."""
    account = account_of(session, customer_id)
    currency = account.currency if account else "CZK"
    legs = _credit_legs(customer_id).subquery()
    opening = session.scalar(
        select(type_coerce(func.coalesce(func.sum(legs.c.amount), 0), Money()))
        .where(legs.c.booked_on < start))
    opening = Decimal(opening).quantize(Decimal("0.01"))
    rows = session.execute(
        select(legs).where(and_(legs.c.booked_on >= start, legs.c.booked_on <= end))
        .order_by(legs.c.booked_on, legs.c.id)
    ).all()
    balance, movements = opening, []
    for tid, booked_on, kind, description, amount in rows:
        amount = Decimal(amount).quantize(Decimal("0.01"))
        balance += amount
        movements.append(Movement(booked_on, kind, description or "", amount, balance, tid))
    return Period(customer_id, currency, start, end, opening, movements)


def month_bounds(month: str) -> tuple[date, date]:
    """``"2026-11"`` -> (1. 11. 2026, 30. 11. 2026)."""
    year, mon = (int(part) for part in month.split("-"))
    start = date(year, mon, 1)
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    return start, following - timedelta(days=1)


def previous_month(on: date) -> str:
    last = on.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


# -- CSV ----------------------------------------------------------------------------------------


def _czech(amount: Decimal) -> str:
    """``-1234,50``: a decimal comma, no thousands separator (Excel reads it as a number)."""
    return f"{amount:.2f}".replace(".", ",")


def export_csv(data: Period, lang: str = "cs") -> bytes:
    """The period's movements as CSV: UTF-8 with a BOM, ``;``, Czech decimals and dates."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    if lang == "en":
        writer.writerow(["Date", "Movement", "Description", f"Amount ({data.currency})",
                         f"Balance ({data.currency})"])
    else:
        writer.writerow(["Datum", "Pohyb", "Popis", f"Částka ({data.currency})",
                         f"Zůstatek ({data.currency})"])
    first = "Počáteční zůstatek" if lang != "en" else "Opening balance"
    writer.writerow([f"{data.start.day}.{data.start.month}.{data.start.year}", first, "", "",
                     _czech(data.opening)])
    for m in data.movements:
        writer.writerow([f"{m.booked_on.day}.{m.booked_on.month}.{m.booked_on.year}",
                         m.label(lang), m.description, _czech(m.amount), _czech(m.balance)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# -- PDF ----------------------------------------------------------------------------------------


def render_statement_pdf(data: Period, customer: Customer, supplier_name: str,
                         title: str | None = None) -> bytes:
    """The statement (vyúčtování kreditu) of a period as a PDF (reportlab, our fonts)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

    from billing.documents.pdf_kit import FONT, FONT_BOLD, ensure_fonts, format_date, para
    from billing.documents.pdf_kit import format_money as money

    ensure_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm,
                            title=title or "Vyúčtování kreditu", author=supplier_name)
    c = data.currency
    story = [
        para(title or f"Vyúčtování kreditu {format_date(data.start)} – {format_date(data.end)}",
             "title"),
        Spacer(1, 4 * mm),
        para(f"{supplier_name}"),
        para(f"Zákazník: {customer.name} (č. {customer.customer_number})"),
        para(customer.address),
        Spacer(1, 4 * mm),
        para(f"Počáteční zůstatek: {money(data.opening, c)}"),
        para(f"Připsáno: {money(data.credited, c)}    Odečteno: {money(data.debited, c)}"),
        para(f"Konečný zůstatek: {money(data.closing, c)}", "party"),
        Spacer(1, 5 * mm),
    ]
    rows = [["Datum", "Pohyb", "Popis", "Částka", "Zůstatek"]]
    for m in data.movements:
        rows.append([format_date(m.booked_on), m.label("cs"), para(m.description),
                     money(m.amount, c), money(m.balance, c)])
    if len(rows) == 1:
        rows.append(["", "Žádné pohyby v tomto období.", "", "", ""])
    table = Table(rows, colWidths=[24 * mm, 32 * mm, 66 * mm, 29 * mm, 29 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.whitesmoke]),
    ]))
    story.append(table)
    story += [Spacer(1, 6 * mm),
              para("Kredit je veden bez DPH; DPH z každého dobití je uvedena na daňovém dokladu "
                   "k přijaté platbě. Tento výpis není daňovým dokladem.")]
    doc.build(story)
    return buffer.getvalue()


def statement_pdf(session: Session, statement: CreditStatement, supplier_name: str) -> bytes:
    account = session.get(CreditAccount, statement.account_id)
    customer = session.get(Customer, account.customer_id)
    start, end = month_bounds(statement.month)
    return render_statement_pdf(period(session, account.customer_id, start, end), customer,
                                supplier_name,
                                title=f"Vyúčtování kreditu za {start.month}/{start.year}")


def statements_of(session: Session, customer_id: int) -> list[CreditStatement]:
    account = account_of(session, customer_id)
    if account is None:
        return []
    return list(session.scalars(select(CreditStatement)
                                .where(CreditStatement.account_id == account.id)
                                .order_by(CreditStatement.month.desc())))


# -- the monthly step ---------------------------------------------------------------------------


def record_statements(session: Session, month: str) -> int:
    """One statement row for ``month`` per account open during it (set-based: one
    statement); billing.credit.mail.send_pending e-mails each (``mailed_at`` NULL) with its
    PDF attached. Running it again records nothing new."""
    start, end = month_bounds(month)
    moment = now()
    since = datetime.combine(start, time(), PRAGUE).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time(), PRAGUE).astimezone(UTC)
    params = {"month": month, "start": start, "end": end, "moment": moment,
              "since": since, "until": until, "credit": str(AccountKind.CREDIT)}
    created = session.execute(text(
        "INSERT INTO credit_statement (account_id, month, opening, closing, movements, created_at) "
        "SELECT ca.id, CAST(:month AS VARCHAR(7)), "
        " coalesce(-sum(CASE WHEN t.booked_on < :start THEN l.amount END), 0), "
        " coalesce(-sum(CASE WHEN t.booked_on <= :end THEN l.amount END), 0), "
        " count(CASE WHEN t.booked_on >= :start AND t.booked_on <= :end THEN 1 END), :moment "
        "FROM credit_account ca "
        "LEFT JOIN ledger_account a ON a.customer_id = ca.customer_id AND a.kind = :credit "
        "LEFT JOIN ledger_leg l ON l.account_id = a.id "
        "LEFT JOIN ledger_transaction t ON t.id = l.transaction_id "
        "WHERE ca.opened_at < :until AND (ca.closed_at IS NULL OR ca.closed_at >= :since) "
        "AND NOT EXISTS (SELECT 1 FROM credit_statement s WHERE s.account_id = ca.id "
        "AND s.month = CAST(:month AS VARCHAR(7))) "
        "GROUP BY ca.id"
    ), params).rowcount
    return created


def daily_step(session: Session, ctx) -> dict:
    """On every day of a month, the previous month's statements that are missing (the
    first run of the month records them all; later runs none)."""
    return {"statements": record_statements(session, previous_month(ctx.on))}


def statement_attachment(supplier_name: str):
    """For billing.credit.mail.send_pending: ``statement:<id>`` -> the PDF."""
    def attach(session: Session, ref: str):
        kind, _, ident = ref.partition(":")
        if kind != "statement":
            return None
        statement = session.get(CreditStatement, int(ident))
        if statement is None:
            return None
        return (f"vyuctovani-kreditu-{statement.month}.pdf", "application/pdf",
                statement_pdf(session, statement, supplier_name))
    return attach
