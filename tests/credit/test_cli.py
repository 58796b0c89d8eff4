"""``ispzone credit ...``: open, a refused and an issued top-up, the daily job with its
report, closing; each through the CLI door (a refusal: exit 1, nothing written)."""

from __future__ import annotations

from sqlalchemy import func, select

from billing.credit import account_of
from billing.models import Invoice


def test_the_credit_commands(app, session, make_customer):
    customer = make_customer("6101")
    session.commit()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["credit", "open", "6101", "--auto-pay"])
    assert result.exit_code == 0, result.output
    assert "opened in CZK; permanent VS 77" in result.output
    result = runner.invoke(args=["credit", "open", "6101"])
    assert result.exit_code == 1 and "already has a credit account" in result.output

    result = runner.invoke(args=["credit", "topup", "6101", "100"])
    assert result.exit_code == 1 and "smallest top-up is 500,00 Kč" in result.output
    assert session.scalar(select(func.count()).select_from(Invoice)) == 0
    result = runner.invoke(args=["credit", "topup", "6101", "1 000,50"])
    assert result.exit_code == 0 and "1 210,61 Kč to pay" in result.output

    result = runner.invoke(args=["credit", "daily", "--date", "2026-12-01"])
    assert result.exit_code == 0, result.output
    assert "autopay: paid 0" in result.output and "statements: statements" in result.output

    result = runner.invoke(args=["credit", "show", "6101"])
    assert "credit 0,00 Kč, auto-pay on" in result.output
    result = runner.invoke(args=["credit", "close", "6101", "--bank-account", "19-2000145399/0800"])
    assert result.exit_code == 0, result.output
    session.rollback()
    assert account_of(session, customer.id).close_requested_at is not None
