"""A report's period: two Prague calendar dates, both included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.errors import Invalid

MAX_DAYS = 3 * 366  # a report over more than three years is a mistake in the dates


class PeriodError(Invalid, ValueError):
    """The period's dates do not make a period."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(
                f"the period ends ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()})", field="to")
        if (self.end - self.start).days > MAX_DAYS:
            raise PeriodError("a report covers at most three years", field="to")

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def month_of(day: date) -> Period:
    """The calendar month ``day`` is in (the usual VAT period)."""
    first = day.replace(day=1)
    following = first.replace(year=first.year + (first.month == 12),
                              month=first.month % 12 + 1)
    return Period(first, date.fromordinal(following.toordinal() - 1))
