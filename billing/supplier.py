"""The supplier (the ISP itself) as printed on every document; comes from configuration."""

from __future__ import annotations

from dataclasses import dataclass


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
