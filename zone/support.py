"""What every page shows besides its content (issue 16): the provider's contacts and hours
(settings ``SUPPORT_PHONE``, ``SUPPORT_EMAIL``, ``SUPPORT_HOURS``, ``SUPPORT_HOURS_EN``) and
the operators' announcements that apply to the visitor (enforcement/announcements.py).

The client zone, the VoIP zone and ``/warning`` share the base template, so this is an
app-wide context processor. The announcements are read only when a template asks: for the
logged-in customer, the VoIP line's customer, or the customer ``/warning`` recognised by
their address (``g.ispzone_customer_id``, set by enforcement/warning.py); anybody else sees
the announcements for all customers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, g, has_request_context
from flask_login import current_user
from markupsafe import Markup, escape

from core.clock import today
from enforcement import announcements
from web import sessions
from web.database import db
from web.i18n import current_lang
from zone import bp

# whether any announcement is current comes with the login session (no query when none is)
LIVE_EXTRA = "announcements_live"
sessions.add_extra(LIVE_EXTRA, announcements.live_column())


@dataclass(frozen=True)
class Support:
    phone: str
    email: str
    hours: str

    @property
    def phone_href(self) -> str:
        return "tel:" + "".join(c for c in self.phone if c.isdigit() or c == "+")

    def __bool__(self) -> bool:
        return bool(self.phone or self.email)


def support() -> Support:
    config = current_app.config
    hours = config.get("SUPPORT_HOURS") or ""
    if current_lang() == "en" and config.get("SUPPORT_HOURS_EN"):
        hours = config["SUPPORT_HOURS_EN"]
    return Support(
        phone=config.get("SUPPORT_PHONE") or "",
        email=config.get("SUPPORT_EMAIL") or config.get("OPERATOR_EMAIL") or "",
        hours=hours,
    )


def _customer_id() -> int | None:
    if getattr(g, "ispzone_customer_id", None):
        return g.ispzone_customer_id
    if current_user.is_authenticated:
        return current_user.customer_id
    user = g.get("voip_user")  # loaded by voip.auth when the VoIP zone asked
    if user is not None:
        return user.service.customer_id
    return None


def _none_live() -> bool:
    """The logged-in customer's session said that no announcement is current (loaded with
    it, see LIVE_EXTRA); False when it was not asked (right after login, other visitors)."""
    if getattr(g, "ispzone_customer_id", None) or not current_user.is_authenticated:
        return False
    live = getattr(current_user, "extras", {}).get(LIVE_EXTRA)
    return live is not None and not live  # SQLite answers 0/1


class _LazyAnnouncements:
    """The list is read the first time a template iterates it."""

    def __init__(self):
        self._rows = None

    def _get(self) -> list[announcements.Shown]:
        if self._rows is None:
            if _none_live():
                self._rows = []
                return self._rows
            try:
                self._rows = announcements.for_customer(
                    db(), _customer_id(), current_lang(), on=today(),
                    default_router=current_app.config.get("ENFORCEMENT_DEFAULT_ROUTER"),
                )
            except Exception:  # a page must never fail for its announcements
                current_app.logger.exception("announcements could not be read")
                self._rows = []
        return self._rows

    def __iter__(self):
        return iter(self._get())

    def __bool__(self) -> bool:
        return bool(self._get())

    def __len__(self) -> int:
        return len(self._get())


@bp.app_context_processor
def _context() -> dict:
    if not has_request_context():
        return {}
    return {"support": support(), "announcements": _LazyAnnouncements()}


# a phone number inside a text (an invoice line): kept together, grouped by three
_PHONE_IN_TEXT = re.compile(r"(?<![\d+])(?:\+|00)?(?:420[ \u00a0]?)?\d{3}[ \u00a0]?\d{3}[ \u00a0]?\d{3}(?!\d)")


@bp.app_template_filter("phones")
def phones_in_text(text: str | None) -> Markup:
    """``Hovory +420601234567`` -> ``Hovory +420 601 234 567`` with no-break spaces, so a
    narrow screen does not wrap the number digit group by digit group."""
    if not text:
        return Markup("")

    def grouped(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        plus = match.group(0).startswith(("+", "00"))
        if plus and digits.startswith("00"):
            digits = digits[2:]
        if len(digits) == 12 and digits.startswith("420"):
            groups = ["+420", digits[3:6], digits[6:9], digits[9:]]
        else:
            groups = [digits[0:3], digits[3:6], digits[6:9]]
        return "\u00a0".join(groups)

    return Markup(_PHONE_IN_TEXT.sub(lambda m: str(escape(grouped(m))), str(escape(text))))
