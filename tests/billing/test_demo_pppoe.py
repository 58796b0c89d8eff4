"""The demo gives every internet service PPPoE credentials, the same on every load (the docs
name 1001's), and FreeRADIUS's answer for them is an Access-Accept."""

from __future__ import annotations

from sqlalchemy import select

from billing import demo
from billing.models import Service
from core.clock import today
from enforcement.radius.authorize import ACCEPT, answer_for


def test_every_demo_internet_service_has_pppoe_credentials(session, supplier):
    demo.load(session, supplier)
    session.commit()
    internet = session.scalars(select(Service).where(Service.kind == "internet")).all()
    assert internet
    for service in internet:
        assert service.pppoe_username and service.pppoe_password, service.id
        assert len(service.pppoe_password) == 19
    first = session.scalars(select(Service).where(Service.pppoe_username == "novak1001")).one()
    assert first.pppoe_password == "cfdq-3vef-ukck-9b7b"  # docs/provisioning.md
    assert len({s.pppoe_password for s in internet}) == len(internet)
    current = [s for s in internet if s.is_active(today())]
    assert all(answer_for(session, s.pppoe_username, today()).outcome == ACCEPT for s in current)
