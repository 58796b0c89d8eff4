"""The period's invoices and credit notes as a Pohoda XML import file (Stormware's XML
communication, schema version 2: ``data.xsd``, ``invoice.xsd``, ``type.xsd``).

One ``dat:dataPack`` (attributes ``version``, ``id``, ``ico``: the supplier's IČO, which
Pohoda checks against the accounting unit's, ``application``, ``note``), one
``dat:dataPackItem`` per document, each holding an ``inv:invoice`` with
- ``inv:invoiceHeader``: ``invoiceType`` (``issuedInvoice``, or ``issuedCorrectiveTax`` for a
  credit note: the corrective tax document), ``number/typ:numberRequested`` (our number,
  so Pohoda keeps it), ``symVar``, ``date`` (issued), ``dateTax`` (DUZP), ``dateAccounting``,
  ``dateDue``, ``classificationVAT`` (inland), ``text``, ``partnerIdentity`` (the customer
  as printed on the document: ``typ:address`` with company or name, street, city, zip, IČO,
  DIČ), ``paymentType`` (draft: a bank transfer), ``note``;
- ``inv:invoiceSummary``: no rounding (``roundingDocument``/``roundingVAT`` none) and
  ``homeCurrency`` with the recap as printed: ``typ:priceNone`` (0 %), ``typ:priceLow`` /
  ``priceLowVAT`` / ``priceLowSum`` (the reduced rate, 12 %), ``typ:priceHigh`` /
  ``priceHighVAT`` / ``priceHighSum`` (21 %).

Documents go without items: Pohoda would recompute the VAT from items, and the file is to
carry the amounts exactly as printed (docs/facts/vat.md). Advance invoices are not tax
documents and are left out, as are the tax documents for received advance payments (Pohoda
issues those from its own advance invoices); docs/reports.md says how to import the file.
The file is Windows-1250, as Stormware's own samples are; a character outside it is written
as an XML character reference.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.invoicing.supplier import Supplier
from billing.models import Customer, Invoice, InvoiceKind
from billing.reports.period import Period
from billing.reports.vat import rate_key
from core.errors import Invalid

NS = {
    "dat": "http://www.stormware.cz/schema/version_2/data.xsd",
    "inv": "http://www.stormware.cz/schema/version_2/invoice.xsd",
    "typ": "http://www.stormware.cz/schema/version_2/type.xsd",
}
ENCODING = "windows-1250"
APPLICATION = "ispzone"
# Pohoda's rate names (type.xsd vatRateType / typeCurrencyHome): high = the standard rate,
# low = the (first) reduced rate, price3 = the second reduced rate of 2015-2023, none = 0 %.
RATE_SLOTS = {
    Decimal("21"): "High", Decimal("20"): "High",
    Decimal("12"): "Low", Decimal("15"): "Low", Decimal("14"): "Low",
    Decimal("10"): "3",
    Decimal("0"): "None",
}

for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


class PohodaExportError(Invalid, ValueError):
    """The period's documents cannot be written as a Pohoda file."""


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _sub(parent: ET.Element, prefix: str, name: str, text=None) -> ET.Element:
    element = ET.SubElement(parent, _q(prefix, name))
    if text is not None:
        element.text = str(text)
    return element


def _amount(value: Decimal) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01'))}"


def _in_period(period: Period):
    return (
        Invoice.kind != InvoiceKind.ADVANCE.value,
        Invoice.taxable_date.is_not(None),
        Invoice.taxable_date >= period.start,
        Invoice.taxable_date <= period.end,
    )


def period_documents(session: Session, period: Period) -> list[Invoice]:
    """The period's invoices and credit notes (by DUZP, as the VAT report counts them)."""
    return list(session.scalars(
        select(Invoice)
        .options(selectinload(Invoice.vat_recap), selectinload(Invoice.lines))
        .where(*_in_period(period))
        .order_by(Invoice.taxable_date, Invoice.number)
    ))


def _partner(header: ET.Element, invoice: Invoice, customer: Customer | None) -> None:
    identity = _sub(header, "inv", "partnerIdentity")
    address = _sub(identity, "typ", "address")
    name = invoice.customer_name
    # typ:name holds 32 characters, typ:company 255: a company (or a long name) is the company
    if invoice.customer_ico or len(name) > 32:
        _sub(address, "typ", "company", name[:255])
    else:
        _sub(address, "typ", "name", name)
    street, _, rest = invoice.customer_address.partition(", ")
    city, zip_code = rest, ""
    if customer is not None and customer.address == invoice.customer_address:
        street, city, zip_code = customer.street, customer.city, customer.postal_code
    if city:
        _sub(address, "typ", "city", city[:45])
    if street:
        _sub(address, "typ", "street", street[:64])
    if zip_code:
        _sub(address, "typ", "zip", zip_code[:15])
    if invoice.customer_ico:
        _sub(address, "typ", "ico", invoice.customer_ico)
    if invoice.customer_dic:
        _sub(address, "typ", "dic", invoice.customer_dic)


def _summary(invoice_element: ET.Element, invoice: Invoice) -> None:
    summary = _sub(invoice_element, "inv", "invoiceSummary")
    _sub(summary, "inv", "roundingDocument", "none")
    _sub(summary, "inv", "roundingVAT", "none")
    home = _sub(summary, "inv", "homeCurrency")
    slots: dict[str, list[Decimal]] = {}
    for recap in invoice.vat_recap:
        slot = RATE_SLOTS.get(rate_key(recap.rate))
        if slot is None:
            raise PohodaExportError(
                f"invoice {invoice.number}: Pohoda has no place for the VAT rate "
                f"{rate_key(recap.rate)} %")
        if slot in slots:
            raise PohodaExportError(
                f"invoice {invoice.number}: two VAT rates go to Pohoda's same rate ({slot})")
        slots[slot] = [recap.base, recap.vat, recap.total]
    if "None" in slots:
        _sub(home, "typ", "priceNone", _amount(slots["None"][0]))
    for slot in ("Low", "High", "3"):
        if slot in slots:
            base, vat, total = slots[slot]
            _sub(home, "typ", f"price{slot}", _amount(base))
            _sub(home, "typ", f"price{slot}VAT", _amount(vat))
            _sub(home, "typ", f"price{slot}Sum", _amount(total))


def _invoice(item: ET.Element, invoice: Invoice, customer: Customer | None,
             corrected: dict[int, str]) -> None:
    element = _sub(item, "inv", "invoice")
    element.set("version", "2.0")
    header = _sub(element, "inv", "invoiceHeader")
    corrective = invoice.kind == InvoiceKind.CREDIT_NOTE.value
    _sub(header, "inv", "invoiceType", "issuedCorrectiveTax" if corrective else "issuedInvoice")
    number = _sub(header, "inv", "number")
    _sub(number, "typ", "numberRequested", invoice.number)
    _sub(header, "inv", "symVar", invoice.variable_symbol)
    _sub(header, "inv", "date", invoice.issue_date.isoformat())
    _sub(header, "inv", "dateTax", invoice.taxable_date.isoformat())
    _sub(header, "inv", "dateAccounting", invoice.taxable_date.isoformat())
    _sub(header, "inv", "dateDue", invoice.due_date.isoformat())
    classification = _sub(header, "inv", "classificationVAT")
    _sub(classification, "typ", "classificationVATType", "inland")
    if corrective:
        original = corrected.get(invoice.corrects_invoice_id or 0, "")
        text = f"Opravný daňový doklad k faktuře {original}".strip()
    else:
        first = invoice.lines[0].description if invoice.lines else ""
        text = f"Faktura {invoice.number}" + (f": {first}" if first else "")
    _sub(header, "inv", "text", text[:240])
    _partner(header, invoice, customer)
    payment = _sub(header, "inv", "paymentType")
    _sub(payment, "typ", "paymentType", "draft")
    if invoice.note:
        _sub(header, "inv", "note", invoice.note)
    _summary(element, invoice)


def pohoda_xml(session: Session, period: Period, supplier: Supplier) -> bytes:
    """The Pohoda import file of the period's invoices and credit notes."""
    if not supplier.ico:
        raise PohodaExportError("the supplier's IČO (SUPPLIER_ICO) is not set: Pohoda "
                                "imports a file only into the accounting unit of that IČO")
    invoices = period_documents(session, period)
    if not invoices:  # the schema wants at least one dataPackItem
        raise PohodaExportError(f"no invoices or credit notes with a DUZP in "
                                f"{period.start.isoformat()}..{period.end.isoformat()}")
    # by subqueries, not lists of ids: a month of 100,000 invoices is more than a statement
    # may carry parameters
    customers = {c.id: c for c in session.scalars(
        select(Customer).where(Customer.id.in_(
            select(Invoice.customer_id).where(*_in_period(period)))))}
    corrected = dict(session.execute(
        select(Invoice.id, Invoice.number).where(Invoice.id.in_(
            select(Invoice.corrects_invoice_id).where(*_in_period(period),
                                                      Invoice.corrects_invoice_id.is_not(None))))
    ).all())
    pack = ET.Element(_q("dat", "dataPack"), {
        "version": "2.0",
        "id": f"ispzone-{period.start.isoformat()}-{period.end.isoformat()}",
        "ico": supplier.ico,
        "application": APPLICATION,
        "note": (f"Vydané faktury a opravné daňové doklady {period.start.isoformat()} "
                 f"až {period.end.isoformat()}"),
    })
    for invoice in invoices:
        item = _sub(pack, "dat", "dataPackItem")
        item.set("version", "2.0")
        item.set("id", invoice.number)
        _invoice(item, invoice, customers.get(invoice.customer_id), corrected)
    ET.indent(pack)
    return ET.tostring(pack, encoding=ENCODING, xml_declaration=True)
