"""The demo ISP: about thirty customers around Kolín, three months of invoices and payments,
sixty days of traffic. Dates are relative to :func:`core.clock.today`, so the demo always
looks current. Loading is idempotent: when customer 1001 exists, nothing is done.

Fixed accounts (password = "demo" + customer number):

* 1001 Jan Novák: everything paid; Internet 100 on 10.20.0.11, device insurance paid ahead,
  VoIP line +420601234567 (VoIP password ``voip1001``).
* 1002 / 1003 / 1004: exactly one unpaid invoice, due 20 / 40 / 60 days ago.

Functions flush; the caller commits.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from billing.bank.pairing import pair
from billing.demo.data import (
    BANKS,
    COMPANY_ICO_STEMS,
    ENDED_SERVICE,
    FIRST,
    INSURANCE,
    INSURED,
    LAST,
    MOBILE,
    OVERDUE,
    OVERPAID,
    PARTLY_PAID,
    PEOPLE,
    PLACES,
    ROUTERS,
    TARIFFS,
    VOIP,
    VOIP_NUMBERS,
)
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.models import (
    BankTransaction,
    Contract,
    Customer,
    Invoice,
    Service,
    ServiceAddress,
    TrafficDay,
)
from core.clock import today
from core.errors import DomainError
from core.passwords import hash_password

SEED = 20240601
ACTOR = "operator:demo"
TRAFFIC_DAYS = 60


class DemoError(DomainError, ValueError):
    pass


def has_customers(session: Session) -> bool:
    return session.scalar(select(Customer.id).limit(1)) is not None


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum() or ch in ". ").strip()


def ico_with_check(stem: str) -> str:
    """Append the mod-11 check digit (weights 8..2) to a 7-digit stem."""
    total = sum(int(d) * w for d, w in zip(stem, range(8, 1, -1), strict=True))
    return stem + str((11 - total % 11) % 10)


def demo_pppoe_password(number: int) -> str:
    """The demo customer's PPPoE password: the same every time (docs/provisioning.md names
    1001's), shaped as billing.customers.services.generate_password makes them, and drawn from
    a generator of its own so the rest of the demo stays as it was."""
    from billing.customers.services import PASSWORD_ALPHABET

    rng = random.Random(f"pppoe-{SEED}-{number}")
    return "-".join("".join(rng.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


def month_starts(day: date, count: int) -> list[date]:
    """The 1st of the last ``count`` months, oldest first (the current month included)."""
    starts = [day.replace(day=1)]
    while len(starts) < count:
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    return starts[::-1]


def last_day_of_next_month(day: date) -> date:
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (next_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


@dataclass
class _Plan:
    """A dated step of the demo history (an invoice issued or a payment received)."""

    on: date
    order: int
    run: Callable[[], None]


class _Builder:
    def __init__(self, session: Session, supplier: Supplier) -> None:
        self.session = session
        self.supplier = supplier
        self.rng = random.Random(SEED)
        self.today = today()
        self.months = month_starts(self.today, 3)
        self.customers: dict[int, Customer] = {}
        self.invoices: dict[tuple[int, str], Invoice] = {}
        self.tx_count = 0
        self.unmatched = 0

    # -- people and services ------------------------------------------------------------
    def create_customers(self) -> None:
        numbers = list(range(FIRST, LAST + 1))
        for number, (label, street, city) in zip(numbers, PEOPLE, strict=True):
            name, _, contact = label.partition("|")
            customer = self._customer(number, name, contact or None, street, city)
            self.customers[number] = customer
            self.session.add(customer)
            signed = self.today - timedelta(days=self.rng.randint(150, 2400))
            if number == FIRST:
                signed = self.today - timedelta(days=1500)
            contract = Contract(customer=customer, number=str(number), signed_on=signed)
            self.session.add(contract)
            self._services(customer, contract)
        self.session.flush()

    def set_passwords(self, hashes: dict[str, str]) -> None:
        for number, customer in self.customers.items():
            customer.password_hash = hashes[f"demo{number}"]
            for service in customer.services:
                if service.kind == "voip":
                    service.voip_password_hash = hashes[f"voip{number}"]

    def _customer(self, number: int, name: str, contact: str | None, street: str, city: str):
        rng = self.rng
        is_company = contact is not None
        person = contact or name
        first, _, surname = person.partition(" ")
        if is_company:
            slug = ascii_slug(name.split(" s.r.o.")[0]).replace(" ", "")
            email = f"info@{slug}.cz"
        else:
            domain = rng.choice(("seznam.cz", "email.cz", "gmail.com", "centrum.cz", "post.cz"))
            email = f"{ascii_slug(first)}.{ascii_slug(surname)}@{domain}"
        ico = ico_with_check(COMPANY_ICO_STEMS[number]) if is_company else None
        return Customer(
            customer_number=str(number),
            is_company=is_company,
            name=name,
            contact_person=contact,
            street=street,
            city=city,
            postal_code=PLACES[city],
            email=email,
            phone="+420" + rng.choice(MOBILE) + f"{rng.randint(0, 999_999):06d}",
            ico=ico,
            dic=f"CZ{ico}" if ico else None,
            language="en" if number == 1015 else "cs",
        )

    def _services(self, customer: Customer, contract: Contract) -> None:
        number = int(customer.customer_number)
        rng = self.rng
        if number == FIRST:
            tariff = "Internet 100"
        elif customer.is_company:
            tariff = "Internet 300"
        else:
            tariff = rng.choices(list(TARIFFS), weights=(3, 5, 2))[0]
        location = f"{customer.street}, {customer.city}"
        start = contract.signed_on
        if number == ENDED_SERVICE:
            switched = self.months[1]
            self._add(customer, contract, kind="internet", name="Internet 50",
                      price=TARIFFS["Internet 50"][0], valid_from=start,
                      valid_to=switched - timedelta(days=1), location=location,
                      download_kbps=TARIFFS["Internet 50"][1],
                      upload_kbps=TARIFFS["Internet 50"][2],
                      pppoe_username=f"{ascii_slug(customer.name.split()[-1])}{number}-old",
                      pppoe_password=demo_pppoe_password(number * 10),
                      description="Změna tarifu na Internet 100")
            start, tariff = switched, "Internet 100"
        price, down, up, _ = TARIFFS[tariff]
        login_word = customer.name.split()[0 if customer.is_company else -1]
        internet = self._add(
            customer, contract, kind="internet", name=tariff, price=price, valid_from=start,
            location=location, download_kbps=down, upload_kbps=up,
            pppoe_username=f"{ascii_slug(login_word)}{number}",
            pppoe_password=demo_pppoe_password(number),
            router_name=ROUTERS.get(customer.city, "kolin-bras1"),
        )
        internet.addresses.append(ServiceAddress(address=f"10.20.0.{number - 990}"))
        if customer.is_company:
            internet.addresses.append(ServiceAddress(address=f"10.20.1.{number - 990}"))
            self._add(customer, contract, kind="other", name="Veřejná IPv4 adresa",
                      price=Decimal("100.00"), valid_from=start, location=location,
                      description="Pevná veřejná IP adresa pro provozovnu")
        if number in VOIP_NUMBERS:
            self._add(customer, contract, kind="voip", name=VOIP[0], price=VOIP[1],
                      valid_from=start, phone_number=VOIP_NUMBERS[number], location=location)
        if number in INSURED:
            self._add(customer, contract, kind="insurance", name=INSURANCE[0],
                      price=INSURANCE[1], valid_from=start,
                      paid_until=last_day_of_next_month(self.today),
                      description="Pojištění routeru a antény proti přepětí a poškození")

    def _add(self, customer: Customer, contract: Contract, **fields) -> Service:
        service = Service(customer=customer, contract=contract, **fields)
        self.session.add(service)
        return service

    # -- traffic --------------------------------------------------------------------------
    def create_traffic(self) -> int:
        rows: list[dict] = []
        days = [self.today - timedelta(days=n) for n in range(TRAFFIC_DAYS, 0, -1)]
        for customer in self.customers.values():
            taste = self.rng.uniform(0.5, 1.6)
            for service in customer.services:
                if service.kind != "internet":
                    continue
                typical = TARIFFS[service.name][3] * taste
                for day in days:
                    if not service.is_active(day):
                        continue
                    rows.append(self._traffic_row(service.id, day, typical, customer.is_company))
        if rows:
            self.session.execute(insert(TrafficDay), rows)
        return len(rows)

    def _traffic_row(self, service_id: int, day: date, typical: float, company: bool) -> dict:
        rng = self.rng
        weekday = day.weekday()
        if company:
            rhythm = (1.2, 1.25, 1.2, 1.2, 1.05, 0.3, 0.2)[weekday]
        else:
            rhythm = (0.85, 0.8, 0.85, 0.9, 1.1, 1.4, 1.35)[weekday]
        amount = typical * rhythm * rng.lognormvariate(0, 0.35)
        if rng.random() < 0.04:  # away from home
            amount *= 0.08
        down = int(amount * 1e9)
        return {
            "service_id": service_id,
            "day": day,
            "bytes_down": down,
            "bytes_up": int(down * rng.uniform(0.1, 0.2)),
        }

    # -- invoices and payments ---------------------------------------------------------------
    def plan_history(self) -> list[_Plan]:
        plans: list[_Plan] = []
        latest = self.months[-1]
        for month in self.months:
            for number, customer in self.customers.items():
                plans.append(_Plan(month, 0, self._issue_monthly(customer, month)))
                delay = self.rng.randint(2, 12)
                paid_on = month + timedelta(days=delay)
                if paid_on > self.today:  # only this month's invoice can still be waiting
                    if number > 1004 and number not in PARTLY_PAID and number not in OVERPAID:
                        continue
                    paid_on = self.today
                amount: Decimal | None = None  # the invoice total
                if month == latest and number in PARTLY_PAID:
                    amount = PARTLY_PAID[number]
                with_ss = number <= 1004 or number % 3 == 0
                extra = OVERPAID.get(number, Decimal("0")) if month == latest else Decimal("0")
                plans.append(_Plan(paid_on, 1, self._pay(number, month.strftime("%Y-%m"),
                                                         paid_on, amount, extra, with_ss)))
        for number, (days, *line) in OVERDUE.items():
            due = self.today - timedelta(days=days)
            plans.append(_Plan(due - timedelta(days=14), 0, self._issue_extra(number, due, line)))
        plans.append(_Plan(self.today - timedelta(days=3), 1, self._unknown_payment))
        plans.sort(key=lambda p: (p.on, p.order))
        return plans

    def _issue_monthly(self, customer: Customer, month: date) -> Callable[[], None]:
        def run() -> None:
            period = month.strftime("%Y-%m")
            label = month.strftime("%m/%Y")
            lines = [
                LineInput(
                    description=f"{s.name} – období {label}",
                    quantity=Decimal("1"),
                    unit="měs.",
                    unit_price=s.price,
                    vat_rate=s.vat_rate,
                    service_id=s.id,
                )
                for s in customer.services
                if s.is_active(month) and s.price > 0 and s.period == "month"
            ]
            if not lines:
                return
            options = IssueOptions(issue_date=month, due_date=month + timedelta(days=14),
                                   period_key=period, actor=ACTOR)
            invoice = issue_invoice(self.session, customer, lines, self.supplier, options,
                                    customer.contracts[0])
            self.invoices[(int(customer.customer_number), period)] = invoice

        return run

    def _issue_extra(self, number: int, due: date, line: list) -> Callable[[], None]:
        description, quantity, unit, price, kind = line

        def run() -> None:
            customer = self.customers[number]
            options = IssueOptions(kind=kind, issue_date=due - timedelta(days=14), due_date=due,
                                   actor=ACTOR)
            lines = [LineInput(description, Decimal(quantity), Decimal(price), unit=unit)]
            issue_invoice(self.session, customer, lines, self.supplier, options)

        return run

    def _pay(self, number: int, period: str, paid_on: date, amount: Decimal | None,
             extra: Decimal, with_ss: bool) -> Callable[[], None]:
        def run() -> None:
            invoice = self.invoices.get((number, period))
            if invoice is None:
                return
            customer = self.customers[number]
            self._transaction(
                booked_on=paid_on,
                amount=(invoice.total if amount is None else amount) + extra,
                variable_symbol=invoice.variable_symbol,
                specific_symbol=invoice.specific_symbol if with_ss else None,
                constant_symbol="0308" if number % 4 == 0 else None,
                counter_name=customer.name,
                message=f"Internet {period}" if number % 2 else None,
            )

        return run

    def _unknown_payment(self) -> None:
        self._transaction(booked_on=self.today - timedelta(days=3), amount=Decimal("450.00"),
                          variable_symbol="8800123", specific_symbol=None, constant_symbol=None,
                          counter_name="Novotný Karel", message="platba za internet")
        self.unmatched += 1

    def _transaction(self, **fields) -> None:
        self.tx_count += 1
        bank = self.rng.choice(BANKS)
        tx = BankTransaction(
            source_account=self.supplier.account or "demo",
            bank_tx_id=f"DEMO-{self.tx_count}",
            counter_account=f"{self.rng.randint(10**8, 10**10 - 1)}/{bank}",
            **fields,
        )
        self.session.add(tx)
        self.session.flush()
        pair(self.session, tx, actor=ACTOR)


def _check_free(session: Session) -> None:
    numbers = [str(n) for n in range(FIRST, LAST + 1)]
    taken = set(session.scalars(select(Customer.customer_number).where(
        Customer.customer_number.in_(numbers))))
    taken |= set(session.scalars(select(Contract.number).where(Contract.number.in_(numbers))))
    if taken:
        raise DemoError(
            "cannot load the demo: numbers already in use: " + ", ".join(sorted(taken))
        )


def load(session: Session, supplier: Supplier) -> str:
    """Fill an (empty) database with the demo ISP. Returns a short report."""
    if session.scalar(select(Customer.id).where(Customer.customer_number == str(FIRST))):
        return f"demo already loaded (customer {FIRST} exists); nothing changed"
    _check_free(session)
    passwords = [f"demo{n}" for n in range(FIRST, LAST + 1)]
    passwords += [f"voip{n}" for n in VOIP_NUMBERS]
    # argon2 is slow on purpose and releases the GIL: hash while the history is written
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = {password: pool.submit(hash_password, password) for password in passwords}
        builder = _Builder(session, supplier)
        builder.create_customers()
        traffic = builder.create_traffic()
        for plan in builder.plan_history():
            plan.run()
        builder.set_passwords({password: f.result() for password, f in pending.items()})
    session.flush()
    ids = [c.id for c in builder.customers.values()]
    invoices = session.scalar(select(func.count(Invoice.id)).where(Invoice.customer_id.in_(ids)))
    services = sum(len(c.services) for c in builder.customers.values())
    return (
        f"demo loaded: {len(ids)} customers, {len(ids)} contracts, {services} services, "
        f"{invoices} invoices, {builder.tx_count} payments ({builder.unmatched} unmatched), "
        f"{traffic} traffic days. Log in as {FIRST} / demo{FIRST}."
    )
