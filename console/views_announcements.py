"""Announcements in the console (``/console/announcements``): the operators post an outage
or a notice (Czech and English text, a time window, all customers or those on one router)
and end it; the client zone, the VoIP zone and /warning show it where it applies
(docs/announcements.md).

Every role may read; support (and admin) post and end. The acts are the functions the
commands call (enforcement/announcements.py), audited with the operator."""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from console.auth import ALL, actor, allow
from console.blueprint import bp
from core.clock import PRAGUE, now
from enforcement import announcements
from enforcement.models import Router
from web.database import db
from web.door import on_refusal

ACTORS = ("support",)  # and admin


class WhenError(announcements.AnnouncementError):
    """A start or end the form cannot read."""


def _when(name: str) -> datetime | None:
    """``datetime-local`` (``YYYY-MM-DDTHH:MM``) in Prague time, or None when empty."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw.replace(" ", "T")[:16], "%Y-%m-%dT%H:%M").replace(tzinfo=PRAGUE)
    except ValueError:
        raise WhenError(_("Enter the time as YYYY-MM-DD HH:MM.")) from None


def _page(status: int = 200):
    rows = announcements.listing(db(), include_ended=request.args.get("all") == "1")
    routers = db().scalars(select(Router.name).order_by(Router.name)).all()
    return render_template("console/announcements.html", rows=rows, routers=routers, now=now(),
                           kinds=list(announcements.AnnouncementKind),
                           show_all=request.args.get("all") == "1"), status


@bp.get("/announcements")
@allow(*ALL)
def announcements_list():
    return _page()


@bp.post("/announcements")
@allow(*ACTORS)
@on_refusal(announcements.AnnouncementError, redirect_to="console.announcements_list")
def announcements_post():
    row = announcements.add(
        db(),
        kind=request.form.get("kind", ""),
        text_cs=request.form.get("text_cs", ""),  # the domain refuses empty or overlong text
        text_en=request.form.get("text_en", ""),
        starts_at=_when("starts_at"),
        ends_at=_when("ends_at"),
        router_name=request.form.get("router_name") or None,
        actor=actor(),
    )
    flash(_("Announcement #%(id)s posted.", id=row.id), "success")
    return redirect(url_for("console.announcements_list"))


@bp.post("/announcements/<int:announcement_id>/end")
@allow(*ACTORS)
@on_refusal(announcements.AnnouncementNotFound, redirect_to="console.announcements_list")
def announcements_end(announcement_id: int):
    announcements.end(db(), announcement_id, actor=actor())
    flash(_("Announcement #%(id)s ended.", id=announcement_id), "success")
    return redirect(url_for("console.announcements_list"))
