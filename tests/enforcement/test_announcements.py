"""Operators' announcements (issue 14 item 9, issue 16): posted, listed and ended with
``ispzone announcements``, audited with the command's person, shown in the client zone, the
VoIP zone and on /warning to those they apply to, in the customer's language."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from billing.models import AuditEvent
from core.clock import now
from enforcement import announcements
from enforcement.announcements import Announcement


def invoke(app, *args, code: int = 0) -> str:
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def shown(html: str) -> list[str]:
    import re

    return re.findall(r'data-announcement="(\d+)"', html)


def test_cli_posts_lists_and_ends_with_the_operators_name(app, session, debtor, monkeypatch):
    from datetime import date

    debtor("4201", "10.20.0.21", date(2026, 1, 1), router="kolin-bras1")
    monkeypatch.setenv("ISPZONE_AS", "jana")
    out = invoke(app, "announcements", "add", "--kind", "outage", "--cs", "Výpadek v Kolíně",
                 "--en", "Outage in Kolín", "--router", "kolin-bras1")
    assert "posted" in out
    row = session.scalars(select(Announcement)).one()
    assert (row.kind, row.router_name, row.created_by) == ("outage", "kolin-bras1", "operator:jana")
    listed = invoke(app, "announcements", "list")
    assert f"#{row.id}" in listed and "Výpadek v Kolíně" in listed and "kolin-bras1" in listed
    invoke(app, "announcements", "end", str(row.id))
    assert invoke(app, "announcements", "list") == "no announcements\n"
    assert f"#{row.id}" in invoke(app, "announcements", "list", "--all")
    session.rollback()  # a fresh snapshot: the commands committed in their own sessions
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("announcement.%"))
                             .order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [
        ("announcement.posted", "operator:jana"), ("announcement.ended", "operator:jana")]
    assert json.loads(events[0].details)["router"] == "kolin-bras1"
    # ending it again is refused
    out = invoke(app, "announcements", "end", str(row.id), code=1)
    assert "no running announcement" in out


def test_bad_input_is_refused_and_writes_nothing(app, session):
    for args, message in (
        (["--cs", ""], "Czech text is required"),
        (["--cs", "x", "--router", "nowhere"], "unknown router"),
        (["--cs", "x", "--from", "2030-01-02 10:00", "--until", "2030-01-01 10:00"],
         "later than the start"),
        (["--cs", "x", "--until", "2020-01-01"], "in the past"),
        (["--cs", "x", "--from", "tomorrow"], "YYYY-MM-DD"),
    ):
        out = invoke(app, "announcements", "add", *args, code=2 if "tomorrow" in args else 1)
        assert message in out, out
    assert session.scalar(select(func.count()).select_from(Announcement)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_shown_where_they_apply(auth, client, session, debtor, make_customer):
    from datetime import date

    on_router = debtor("4202", "10.20.0.22", date(2026, 1, 1), router="r-east")
    elsewhere = make_customer(number="4203", password="secret-pass", internet_ip="10.20.0.23")
    elsewhere.services[0].router_name = "r-west"
    session.commit()
    everybody = announcements.add(session, kind="notice", text_cs="Nový ceník od ledna",
                                  text_en="New prices from January", actor="operator:test")
    east = announcements.add(session, kind="outage", text_cs="Výpadek na východě",
                             router_name="r-east", actor="operator:test")
    later = announcements.add(session, kind="notice", text_cs="Až zítra",
                              starts_at=now() + timedelta(days=1), actor="operator:test")
    session.commit()
    assert on_router.id and later.id

    auth.login("4202", "secret-pass")
    html = client.get("/invoices").get_data(as_text=True)
    # the outage first, then the notice; nothing that has not started
    assert shown(html) == [str(east.id), str(everybody.id)]
    assert "Výpadek na východě" in html and "Nový ceník od ledna" in html
    client.post("/language", data={"lang": "en", "next": "/info"})
    html = client.get("/info").get_data(as_text=True)
    assert "New prices from January" in html and "Výpadek na východě" in html  # no English text
    auth.logout()

    auth.login("4203", "secret-pass")
    assert shown(client.get("/info").get_data(as_text=True)) == [str(everybody.id)]
    auth.logout()
    # somebody not logged in sees those for everybody (the login page)
    assert shown(client.get("/login").get_data(as_text=True)) == [str(everybody.id)]

    # the customer recognised by their address on /warning sees theirs too
    html = client.get("/warning", environ_base={"REMOTE_ADDR": "10.20.0.22"}).get_data(as_text=True)
    assert str(east.id) in shown(html)

    announcements.end(session, east.id, actor="operator:test")
    session.commit()
    html = client.get("/warning", environ_base={"REMOTE_ADDR": "10.20.0.22"}).get_data(as_text=True)
    assert shown(html) == [str(everybody.id)]
