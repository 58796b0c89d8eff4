"""Announcements in the console: support posts and ends them (audited with the operator),
readonly only reads, a bad post changes nothing, the client zone shows what was posted."""

from __future__ import annotations

from sqlalchemy import func, select

from billing.models import AuditEvent
from enforcement.announcements import Announcement


def count(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Announcement))


def test_support_posts_and_ends_an_announcement(console_client, session, auth, client,
                                                make_customer):
    support = console_client("support")
    page = support.get("/console/announcements")
    assert page.status_code == 200 and 'id="post-announcement"' in page.get_data(as_text=True)
    r = support.post("/console/announcements", data={
        "kind": "outage", "text_cs": "Plánovaná odstávka v noci", "text_en": "Planned night outage",
        "starts_at": "", "ends_at": "", "router_name": "",
    })
    assert r.status_code == 302
    session.rollback()
    row = session.scalars(select(Announcement)).one()
    assert (row.kind, row.text_en, row.created_by) == (
        "outage", "Planned night outage", f"operator:{support.operator.login}")
    listing = support.get("/console/announcements").get_data(as_text=True)
    assert f'id="announcement-{row.id}"' in listing and "Plánovaná odstávka v noci" in listing

    # the subscriber sees it
    make_customer(number="4301", password="secret-pass")
    auth.login("4301", "secret-pass")
    assert f'data-announcement="{row.id}"' in client.get("/info").get_data(as_text=True)

    r = support.post(f"/console/announcements/{row.id}/end")
    assert r.status_code == 302
    assert f'data-announcement="{row.id}"' not in client.get("/info").get_data(as_text=True)
    session.rollback()
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.actor == f"operator:{support.operator.login}").order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["announcement.posted", "announcement.ended"]


def test_a_bad_post_changes_nothing_and_readonly_cannot_post(console_client, session):
    support = console_client("support")
    r = support.post("/console/announcements", data={"kind": "notice", "text_cs": "  "})
    assert r.status_code in (302, 303, 422)
    r = support.post("/console/announcements", data={
        "kind": "notice", "text_cs": "x", "ends_at": "2020-01-01T10:00"})
    assert r.status_code in (302, 303, 422)
    assert count(session) == 0
    readonly = console_client("readonly")
    assert readonly.get("/console/announcements").status_code == 200
    assert 'id="post-announcement"' not in readonly.get("/console/announcements").get_data(as_text=True)
    r = readonly.post("/console/announcements", data={"kind": "notice", "text_cs": "x"})
    assert r.status_code == 403
    assert count(session) == 0
