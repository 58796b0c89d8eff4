"""Time in one place: stored in UTC, shown and counted in Europe/Prague calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PRAGUE = ZoneInfo("Europe/Prague")


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Prague."""
    return now().astimezone(PRAGUE).date()


def prague_date(moment: datetime) -> date:
    return moment.astimezone(PRAGUE).date()
