"""Rating one call: billing increments, connect fee, VAT. Pure functions, no database.

A call of ``billsec`` answered seconds is charged in blocks: the first block of
``initial_increment`` seconds, then blocks of ``increment`` seconds (60/60 = per started
minute, 60/1 = the first minute then per second, 1/1 = per second). A call of 0 seconds
costs nothing, not even the connect fee (it never connected).

Prices in the tariff are net (without VAT) with 4 decimal places. The net cost of a call,
``connect_fee + price_per_minute * charged / 60``, is kept exact (as a fraction of integers),
and only its gross amount (``net * (1 + vat/100)``) is rounded, half-up to 0.01 Kč, once per
call. That is what is deducted from the prepaid credit, which is VAT-inclusive.

The arithmetic is on integers (ten-thousandths of a koruna, hundredths of a VAT percent) so
that rating a million calls stays fast and exactly the same on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
PRICE_QUANTUM = Decimal("0.0001")
# gross haléře = (60*C + P*charged) * (10_000 + V) / _DIVISOR, with C, P in 1/10_000 Kč
# and V the VAT rate in 1/100 %: 60 s * 10_000 (price units) * 10_000 (VAT units) / 100 haléř
_DIVISOR = 60 * 10_000 * 10_000 // 100


def charged_seconds(billsec: int, initial: int, increment: int) -> int:
    """The seconds charged for ``billsec`` answered seconds under ``initial``/``increment``."""
    if billsec <= 0:
        return 0
    if billsec <= initial:
        return initial
    blocks = -(-(billsec - initial) // increment)  # ceil without floats
    return initial + blocks * increment


def _units(value: Decimal, scale: int) -> int:
    scaled = Decimal(value).scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {scale} decimal places")
    return int(scaled)


def gross(net: Decimal, vat_rate: Decimal, quantum: Decimal = CENT) -> Decimal:
    """``net`` plus VAT, rounded half-up to ``quantum``."""
    return (Decimal(net) * (100 + Decimal(vat_rate)) / 100).quantize(quantum, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Rate:
    """The price of calls to one prefix (a row of a tariff), with precomputed integers."""

    prefix: str
    destination: str
    price_per_minute: Decimal  # net, 4 decimal places
    connect_fee: Decimal = Decimal("0")  # net
    vat_rate: Decimal = Decimal("21")
    initial_increment: int = 60
    increment: int = 60
    destination_en: str | None = field(default=None, compare=False)  # English pages' name
    _p: int = field(init=False, repr=False, compare=False)
    _c60: int = field(init=False, repr=False, compare=False)
    _vat: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.initial_increment < 1 or self.increment < 1:
            raise ValueError("increments must be positive whole seconds")
        if self.price_per_minute < 0 or self.connect_fee < 0 or self.vat_rate < 0:
            raise ValueError("prices and VAT must not be negative")
        object.__setattr__(self, "_p", _units(self.price_per_minute, 4))
        object.__setattr__(self, "_c60", 60 * _units(self.connect_fee, 4))
        object.__setattr__(self, "_vat", 10_000 + _units(self.vat_rate, 2))

    def charged(self, billsec: int) -> int:
        return charged_seconds(billsec, self.initial_increment, self.increment)

    def cost_cents(self, billsec: int) -> tuple[int, int]:
        """(charged seconds, gross cost in haléře) of a call of ``billsec`` seconds."""
        if billsec <= 0:
            return 0, 0
        initial = self.initial_increment
        if billsec <= initial:
            charged = initial
        else:
            step = self.increment
            charged = initial + (billsec - initial + step - 1) // step * step
        numerator = (self._c60 + self._p * charged) * self._vat
        return charged, (2 * numerator + _DIVISOR) // (2 * _DIVISOR)

    def blocks_within(self, cents: int) -> int:
        """The greatest ``k`` with ``cost_cents(initial_increment + k * increment) <= cents``
        (-1 when even the first block costs more), solved on the same integers as
        ``cost_cents`` instead of searched: its rounding ``(2N + D) // 2D <= cents`` is
        ``2N <= D(2 cents + 1) - 1`` with ``N = (c60 + p * seconds) * vat``. For a price
        per minute of 0 the cost does not grow: ``k`` is then unbounded (a large number)."""
        limit = (_DIVISOR * (2 * cents + 1) - 1) // (2 * self._vat) - self._c60 - self._p * self.initial_increment
        if limit < 0:
            return -1
        if self._p == 0:
            return 1 << 62
        return limit // (self._p * self.increment)

    def cost(self, billsec: int) -> Decimal:
        """The VAT-inclusive cost of a call of ``billsec`` seconds, rounded to 0.01 Kč."""
        return Decimal(self.cost_cents(billsec)[1]).scaleb(-2)

    def net_cost(self, billsec: int) -> Decimal:
        """The exact net cost (not rounded; may have many decimals, e.g. per-second 1/60)."""
        charged = self.charged(billsec)
        if not charged:
            return Decimal("0")
        return self.connect_fee + self.price_per_minute * charged / 60

    @property
    def increments_label(self) -> str:
        return f"{self.initial_increment}/{self.increment}"
