"""The demo, end to end through the CLI: after ``ispzone demo`` 1002 is warned, 1003 has
acknowledged 11 days ago and 1004 is disconnected; the next run disconnects 1003; importing
the shipped ``demo/statement.gpc`` reconnects 1004 at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from billing.models import Customer
from core.clock import prague_date, today
from enforcement.drivers.recording import read_state
from enforcement.models import EnforcementCase, RouterAction

STATEMENT = Path(__file__).resolve().parents[2] / "demo" / "statement.gpc"


def cases(session) -> dict[str, EnforcementCase]:
    session.commit()
    session.expire_all()
    return {number: case for number, case in session.execute(
        select(Customer.customer_number, EnforcementCase)
        .join(EnforcementCase, EnforcementCase.customer_id == Customer.id))}


def lists(app, router: str) -> dict:
    return read_state(app.config["ENFORCEMENT_RECORDING_DIR"], router)["lists"]


def invoke(runner, *args) -> str:
    with runner.app.app_context():  # as the ``ispzone`` FlaskGroup provides it
        result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_demo_story(app, session):
    runner = app.test_cli_runner()
    output = invoke(runner, "demo")
    assert "enforcement: 1002 warned, 1003 acknowledged, 1004 disconnected" in output

    state = cases(session)
    assert {n: c.state for n, c in state.items() if c.state != "ok"} == {
        "1002": "warned", "1003": "acknowledged", "1004": "disconnected"}
    assert prague_date(state["1003"].acknowledged_at) == today() - timedelta(days=11)
    assert state["1003"].disconnect_due == today() - timedelta(days=1)
    assert lists(app, "kolin-bras1") == {"warned": ["10.20.0.12"]}
    assert lists(app, "kh-bras1") == {"warned": []}  # 1003 left "warned" when acknowledging
    assert lists(app, "pdb-bras1") == {"warned": [], "blocked": ["10.20.0.14"]}
    assert session.scalar(select(RouterAction).where(RouterAction.status == "pending")) is None

    output = invoke(runner, "enforcement", "run")
    assert "1003: acknowledged -> disconnected" in output
    assert cases(session)["1003"].state == "disconnected"
    assert lists(app, "kh-bras1")["blocked"] == ["10.20.0.13"]

    output = invoke(runner, "payments", "import", str(STATEMENT))
    assert "1 paired" in output
    assert cases(session)["1004"].state == "ok"  # at once, before any sweep or worker
    invoke(runner, "worker", "--once")
    assert lists(app, "pdb-bras1")["blocked"] == []
    assert "pdb-bras1  recording" in invoke(runner, "enforcement", "routers", "list")
