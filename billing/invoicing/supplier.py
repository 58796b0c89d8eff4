"""The supplier (the ISP itself) as printed on every document; comes from configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_FORMAT = re.compile(r"(YYYY|YY)(N+)")


def number_format(fmt: str) -> tuple[int, int]:
    """``"YYYYNNNNNN"`` -> (4, 6): digits of the year and of the serial. At most 10 digits
    in all, since the invoice number is also the specific symbol."""
    m = _NUMBER_FORMAT.fullmatch(fmt or "")
    if not m or len(fmt) > 10:
        raise ValueError(
            f"invoice number format {fmt!r}: the year as YYYY or YY, then N's for the serial, "
            "10 characters at most (e.g. YYYYNNNNNN or YYNNNNNNNN)"
        )
    return len(m.group(1)), len(m.group(2))


@dataclass(frozen=True)
class Supplier:
    name: str = "Příkladnet s.r.o."
    street: str = "Nádražní 12"
    city: str = "Kolín"
    postal_code: str = "280 02"
    ico: str | None = "27074358"
    dic: str | None = "CZ27074358"
    account: str | None = "2001234588/2010"  # Czech format, for people
    iban: str | None = "CZ6220100000002001234588"  # for QR Platba
    email: str | None = "fakturace@priklad.net"
    phone: str | None = "+420 321 000 000"
    register: str | None = "zapsaná v OR vedeném Městským soudem v Praze, oddíl C, vložka 12345"
    # Invoice numbers (also the specific symbol, so at most 10 digits): the year as YYYY or
    # YY, then the serial as N's. "YYYYNNNNNN" holds 999,999 invoices a year; a provider
    # with more (100,000 customers x 12 months) uses "YYNNNNNNNN" (99,999,999 a year).
    invoice_number_format: str = "YYYYNNNNNN"

    def __post_init__(self) -> None:
        number_format(self.invoice_number_format)
        if self.register and len(self.register) > 300:  # what invoices keep of it
            raise ValueError("the supplier's register entry (SUPPLIER_REGISTER) has more "
                             f"than 300 characters ({len(self.register)})")

    @property
    def address(self) -> str:
        return f"{self.street}, {self.postal_code} {self.city}"

    @classmethod
    def from_config(cls, config) -> Supplier:
        """Build from a mapping with SUPPLIER_NAME, SUPPLIER_STREET, ... keys."""
        kwargs = {}
        for field in cls.__dataclass_fields__:
            key = f"SUPPLIER_{field.upper()}"
            if config.get(key) is not None:
                kwargs[field] = config[key] or None
        return cls(**kwargs)
