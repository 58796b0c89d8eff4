"""Transferred data per Prague calendar day, as fed by RADIUS accounting into TrafficDay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import Service, ServiceKind, TrafficDay
from core.errors import DomainError

MAX_DAYS = 366


class RangeError(DomainError, ValueError):
    """``code`` is "order" (start after end) or "length" (more than MAX_DAYS days)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DayTraffic:
    day: date
    bytes_down: int
    bytes_up: int

    @property
    def total(self) -> int:
        return self.bytes_down + self.bytes_up


@dataclass(frozen=True)
class Totals:
    bytes_down: int
    bytes_up: int

    @property
    def total(self) -> int:
        return self.bytes_down + self.bytes_up


def month_to_date(today: date) -> tuple[date, date]:
    """The default range: from the first of the current month to today."""
    return today.replace(day=1), today


def check_range(start: date, end: date) -> None:
    if start > end:
        raise RangeError("order", "the start is after the end")
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeError("length", f"at most {MAX_DAYS} days")


def internet_services(session: Session, customer_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service)
            .where(Service.customer_id == customer_id, Service.kind == ServiceKind.INTERNET)
            .order_by(Service.valid_from, Service.id)
        )
    )


def daily_traffic(
    session: Session, customer_id: int, service_id: int | None, start: date, end: date
) -> list[DayTraffic]:
    """One row per day from ``start`` to ``end`` (zeros where nothing was recorded).

    Only the customer's internet services count: all of them summed when ``service_id`` is
    None, else that one (nothing, if it is not the customer's). One GROUP BY query.
    """
    check_range(start, end)
    query = (
        select(TrafficDay.day, func.sum(TrafficDay.bytes_down), func.sum(TrafficDay.bytes_up))
        .join(Service, Service.id == TrafficDay.service_id)
        .where(
            Service.customer_id == customer_id,
            Service.kind == ServiceKind.INTERNET,
            TrafficDay.day >= start,
            TrafficDay.day <= end,
        )
        .group_by(TrafficDay.day)
    )
    if service_id is not None:
        query = query.where(TrafficDay.service_id == service_id)
    found = {day: (int(down or 0), int(up or 0)) for day, down, up in session.execute(query)}
    days = []
    day = start
    while day <= end:
        down, up = found.get(day, (0, 0))
        days.append(DayTraffic(day, down, up))
        day += timedelta(days=1)
    return days


def totals(days: list[DayTraffic]) -> Totals:
    return Totals(sum(d.bytes_down for d in days), sum(d.bytes_up for d in days))
