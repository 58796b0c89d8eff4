"""Customers, contracts, services and what hangs off a service (IP addresses, traffic)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now
from core.db import Base


class ServiceKind(StrEnum):
    """``service.kind``."""

    INTERNET = "internet"
    VOIP = "voip"  # a VoIP line (one phone number)
    INSURANCE = "insurance"
    OTHER = "other"


class ServicePeriod(StrEnum):
    """``service.period``: how often the service's price is billed."""

    MONTH = "month"
    YEAR = "year"
    ONCE = "once"


SERVICE_KINDS = tuple(kind.value for kind in ServiceKind)


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The login and the default variable symbol: digits only, no leading zero.
    customer_number: Mapped[str] = mapped_column(String(10), unique=True)
    is_company: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200))
    contact_person: Mapped[str | None] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    country: Mapped[str] = mapped_column(String(2), default="CZ")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    ico: Mapped[str | None] = mapped_column(String(8))
    dic: Mapped[str | None] = mapped_column(String(14))
    language: Mapped[str] = mapped_column(String(2), default="cs")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Enforcement exemption: never disconnect (exempt=True) or not before a date.
    enforcement_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    enforcement_exempt_until: Mapped[date | None] = mapped_column(Date)
    # The operators' search (billing/customers/search.py): name, contact person and e-mail
    # folded (lower case, no diacritics, words of letters and digits); kept by the
    # before_insert/before_update listeners below, back-filled by migration 0013.
    search_name: Mapped[str] = mapped_column(String(700), default="", server_default="")

    __table_args__ = (
        # the search's indexes (migration 0013): word prefixes of the folded name (GIN,
        # PostgreSQL only) and prefixes of the number and the phone (text_pattern_ops)
        Index("ix_customer_search_name_words",
              text("to_tsvector('simple'::regconfig, search_name)"),
              postgresql_using="gin"),
        Index("ix_customer_number_prefix", "customer_number",
              postgresql_ops={"customer_number": "text_pattern_ops"}),
        Index("ix_customer_phone_prefix", "phone", postgresql_ops={"phone": "text_pattern_ops"}),
    )

    contracts: Mapped[list[Contract]] = relationship(back_populates="customer", order_by="Contract.id")
    services: Mapped[list[Service]] = relationship(back_populates="customer", order_by="Service.id")

    @property
    def address_lines(self) -> list[str]:
        second = " ".join(p for p in (self.postal_code, self.city) if p)
        return [line for line in (self.street, second) if line]

    @property
    def address(self) -> str:
        return ", ".join(self.address_lines)


class Contract(Base):
    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    # The variable symbol of every payment under this contract: digits, no leading zero.
    number: Mapped[str] = mapped_column(String(10), unique=True)
    signed_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)

    customer: Mapped[Customer] = relationship(back_populates="contracts")
    services: Mapped[list[Service]] = relationship(back_populates="contract", order_by="Service.id")


class Service(Base):
    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # ServiceKind
    name: Mapped[str] = mapped_column(String(200))  # the tariff / product name
    description: Mapped[str | None] = mapped_column(String(500))
    # Price per billing period, VAT included; rate in percent.
    price: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("21"))
    period: Mapped[str] = mapped_column(String(8), default=ServicePeriod.MONTH.value)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    paid_until: Mapped[date | None] = mapped_column(Date)  # insurance: covered until
    location: Mapped[str | None] = mapped_column(String(300))  # where it is installed
    # internet
    download_kbps: Mapped[int | None] = mapped_column(Integer)
    upload_kbps: Mapped[int | None] = mapped_column(Integer)
    pppoe_username: Mapped[str | None] = mapped_column(String(64), unique=True)
    # PPPoE secret handed to FreeRADIUS (control:Cleartext-Password, needed for CHAP)
    pppoe_password: Mapped[str | None] = mapped_column(String(64))
    router_name: Mapped[str | None] = mapped_column(String(64))
    # voip
    phone_number: Mapped[str | None] = mapped_column(String(16), unique=True)
    voip_password_hash: Mapped[str | None] = mapped_column(String(200))
    topup_cap: Mapped[Decimal | None] = mapped_column()
    # --- credit services (issue 15 item 4, migration 0019; helper credit-services) ---------
    # the day the paid period ends (renewals extend it from this day, paid early or late);
    # None = billed by the monthly run, no expiry
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    # the length of one renewal in months (1, 12, 24...); None = by ``period`` (1 or 12)
    renewal_months: Mapped[int | None] = mapped_column(Integer)
    # renew from credit before expiry: True/False for this service, None = the customer's
    # setting for its kind (billing.models.credit_services.CreditServiceSettings)
    auto_renew: Mapped[bool | None] = mapped_column(Boolean)
    # a yearly product billed monthly (price / 12 + the tariff's surcharge, RenewalTariff)
    billed_monthly: Mapped[bool] = mapped_column(Boolean, default=False)
    # --- end of credit services ---------------------------------------------------------------

    __table_args__ = (
        Index("ix_service_pppoe_prefix", text("lower(pppoe_username)"),
              postgresql_ops={"lower(pppoe_username)": "text_pattern_ops"}),
    )

    customer: Mapped[Customer] = relationship(back_populates="services")
    contract: Mapped[Contract] = relationship(back_populates="services")
    addresses: Mapped[list[ServiceAddress]] = relationship(
        back_populates="service", order_by="ServiceAddress.id", cascade="all, delete-orphan"
    )

    def is_active(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or self.valid_to >= on)


class ServiceAddress(Base):
    """An IP address (or prefix) assigned to an internet service."""

    __tablename__ = "service_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    address: Mapped[str] = mapped_column(String(43), unique=True)

    __table_args__ = (
        Index("ix_service_address_prefix", "address",
              postgresql_ops={"address": "text_pattern_ops"}),
    )

    service: Mapped[Service] = relationship(back_populates="addresses")


class TrafficDay(Base):
    """Bytes transferred by one service on one Prague calendar day (fed by RADIUS accounting)."""

    __tablename__ = "traffic_day"
    __table_args__ = (UniqueConstraint("service_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    day: Mapped[date] = mapped_column(Date)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)


# -- the folded search column (docs/console-customers.md) -----------------------------------

_WORD = re.compile(r"[^\W_]+")


def fold_words(text: str | None) -> list[str]:
    """The words of ``text`` folded for search: lower case, diacritics dropped ("Dvořák" ->
    "dvorak"), split at anything but letters and digits ("jan.novak@seznam.cz" -> jan,
    novak, seznam, cz). Query and column are folded by this one function."""
    if not text:
        return []
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(bare)


def search_name_of(name: str | None, contact_person: str | None, email: str | None) -> str:
    return " ".join(fold_words(name) + fold_words(contact_person) + fold_words(email))[:700]


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _keep_search_name(_mapper, _connection, target: Customer) -> None:
    target.search_name = search_name_of(target.name, target.contact_person, target.email)
