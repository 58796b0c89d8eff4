"""Enforcement settings (environment variables, see README "Configuration"; the defaults
are what a small Czech ISP uses). Days are Europe/Prague calendar days."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DEFAULTS = {
    # a reminder case opens when an invoice is this many days past its due date ...
    "ENFORCEMENT_GRACE_DAYS": 3,
    # ... and the overdue debt is at least this much (CZK)
    "ENFORCEMENT_MIN_DEBT": Decimal("50.00"),
    # days after the case opened: second reminder, then the on-screen warning
    "ENFORCEMENT_REMINDER2_DAYS": 7,
    "ENFORCEMENT_WARNING_DAYS": 14,
    # days from the customer's acknowledgement to the disconnection
    "ENFORCEMENT_DISCONNECT_DAYS": 10,
    # disconnect this many days after the warning even without acknowledgement (0 = never)
    "ENFORCEMENT_DISCONNECT_UNACKNOWLEDGED_DAYS": 0,
    # the address lists on the routers
    "ENFORCEMENT_LIST_WARNED": "warned",
    "ENFORCEMENT_LIST_BLOCKED": "blocked",
    # outbox worker: retries with exponential backoff (seconds) and jitter, then give up
    "ENFORCEMENT_RETRY_BASE_SECONDS": 5,
    "ENFORCEMENT_RETRY_MAX_SECONDS": 600,
    "ENFORCEMENT_MAX_ATTEMPTS": 200,
    # the router used for services without router_name, and the driver of unknown routers
    "ENFORCEMENT_DEFAULT_ROUTER": "default",
    "ENFORCEMENT_DEFAULT_DRIVER": "recording",
    # the recording driver keeps each router's lists in <dir>/<router>.json
    # (empty = the instance folder's "recording-routers")
    "ENFORCEMENT_RECORDING_DIR": "",
    # outbox worker: a claimed action/mail is someone else's for this long (seconds) ...
    "ENFORCEMENT_LEASE_SECONDS": 120,
    # ... ``ispzone worker`` drains every this many seconds ...
    "ENFORCEMENT_WORKER_INTERVAL": 5,
    # ... and sweeps once per Prague day, at or after this hour
    "ENFORCEMENT_SWEEP_HOUR": 6,
    # notices by e-mail: give up (status failed) after this many attempts
    "ENFORCEMENT_MAIL_MAX_ATTEMPTS": 100,
}


@dataclass(frozen=True)
class Policy:
    """The numbers the pure policy needs (built from the app config or given in tests)."""

    grace_days: int = 3
    min_debt: Decimal = Decimal("50.00")
    reminder2_days: int = 7
    warning_days: int = 14
    disconnect_days: int = 10
    disconnect_unacknowledged_days: int = 0
    list_warned: str = "warned"
    list_blocked: str = "blocked"

    @classmethod
    def from_config(cls, config) -> Policy:
        return cls(
            grace_days=int(config["ENFORCEMENT_GRACE_DAYS"]),
            min_debt=Decimal(config["ENFORCEMENT_MIN_DEBT"]),
            reminder2_days=int(config["ENFORCEMENT_REMINDER2_DAYS"]),
            warning_days=int(config["ENFORCEMENT_WARNING_DAYS"]),
            disconnect_days=int(config["ENFORCEMENT_DISCONNECT_DAYS"]),
            disconnect_unacknowledged_days=int(
                config["ENFORCEMENT_DISCONNECT_UNACKNOWLEDGED_DAYS"]
            ),
            list_warned=config.get("ENFORCEMENT_LIST_WARNED") or "warned",
            list_blocked=config.get("ENFORCEMENT_LIST_BLOCKED") or "blocked",
        )
