"""The floor of the client zone's /info page: bench/web_floor.py serves this beside the bare
"hello" app and the real app, to measure how fast *any* Flask page that shows /info could be
on this machine.

It keeps only what no implementation can drop: Flask, its signed cookie session (the real
app's cookie, read with the same key), the token's hash looked up in ``user_session``, the
page's data read from PostgreSQL and, for the /page variants, a Jinja page with the labels
looked up in a dict and a CSRF token for the page's two forms. It has no Flask-Login, no
SQLAlchemy, no Flask-Babel, no Flask-WTF, no rate limiter, no url_for, one raw psycopg
connection per worker with server-side prepared statements, and no error handling. It is a
measuring stick, not an application.

* ``/sql``: the three statements the real app ran for /info (captured by web_floor.py), and
  the real page's bytes as they were rendered (no rendering here);
* ``/page``: the same three statements and a lean Jinja copy of the page
  (templates/floor_info.html);
* ``/page1``: everything the page shows read by one hand-written statement (one round trip
  instead of three), and the same template.

Settings (environment): FLOOR_DATABASE_URL, FLOOR_CAPTURE (a pickle written by web_floor.py:
the statements, their parameters and the real page), SECRET_KEY (the real app's).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import secrets
from datetime import date

import psycopg
from flask import Flask, abort, render_template, session
from itsdangerous import URLSafeTimedSerializer

with open(os.environ["FLOOR_CAPTURE"], "rb") as f:
    CAPTURE = pickle.load(f)
STATEMENTS = CAPTURE["statements"]  # [(sql, params)] as the real app ran them for /info

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
app.config["SESSION_COOKIE_NAME"] = "ispzone_session"
_csrf = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token")
_conn: psycopg.Connection | None = None


def conn() -> psycopg.Connection:
    global _conn
    if _conn is None:  # one per worker process, after gunicorn forked it
        _conn = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
    return _conn


def money(value) -> str:
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",") + "\u00a0Kč"


def czech_date(value: date | None) -> str:
    return f"{value.day}. {value.month}. {value.year}" if value else ""


def phone(value: str | None) -> str:
    if not value or len(value) != 13:
        return value or ""
    return f"{value[:4]} {value[4:7]} {value[7:10]} {value[10:]}"


LABELS: dict[str, str] = {}  # the page's labels, looked up as a catalog would be
app.jinja_env.globals["_"] = lambda text: LABELS.get(text, text)
app.jinja_env.filters.update(money=money, date=czech_date, phone=phone)


def token_hash() -> str:
    token = session.get("_user_id")  # where Flask-Login keeps the real app's session token
    if not token:
        abort(401)
    return hashlib.sha256(token.encode()).hexdigest()


def replay() -> tuple:
    """The real app's three statements, with this request's token and customer."""
    (sql1, params1), (sql2, params2), (sql3, params3) = STATEMENTS
    who = conn().execute(sql1, {**params1, "token_hash": token_hash()}, prepare=True).fetchone()
    if who is None:
        abort(401)
    summary = conn().execute(sql2, {**params2, "customer_id": who[0]}, prepare=True).fetchone()
    contracts = conn().execute(sql3, {**params3, "customer_id": who[0]}, prepare=True).fetchall()
    return who, summary, contracts


def page(who, summary, contracts) -> str:
    # the real app's cookie holds its CSRF secret under Flask-WTF's key: reuse it, so that
    # the floor, like the app, does not write the cookie again on every request
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_hex(20)
    return render_template("floor_info.html", c=who, s=summary, contracts=contracts,
                           csrf=_csrf.dumps(session["csrf_token"]))


@app.get("/ready")
def ready():
    return "ok"


@app.get("/sql")
def sql_only():
    replay()
    return CAPTURE["page"]


@app.get("/page")
def three_round_trips():
    return page(*replay())


ONE_STATEMENT = """
WITH s AS (SELECT c.* FROM user_session us JOIN customer c ON c.id = us.customer_id
           WHERE us.token_hash = %(token_hash)s AND us.kind = 'zone'),
paid AS (SELECT a.invoice_id, sum(a.amount) AS paid FROM allocation a
         JOIN invoice i ON i.id = a.invoice_id
         WHERE i.customer_id = (SELECT id FROM s) GROUP BY a.invoice_id),
o AS (SELECT i.total - coalesce(paid.paid, 0) AS open, i.due_date FROM invoice i
      LEFT JOIN paid ON paid.invoice_id = i.id
      WHERE i.customer_id = (SELECT id FROM s) AND i.kind <> 'credit_note')
SELECT s.id, s.customer_number, s.is_company, s.name, s.contact_person, s.street, s.city,
       s.postal_code, s.country, s.email, s.phone, s.ico, s.dic, s.language,
       (SELECT coalesce(sum(open) FILTER (WHERE open > 0), 0) FROM o),
       (SELECT coalesce(sum(open) FILTER (WHERE open > 0 AND due_date < %(on)s), 0) FROM o),
       (SELECT min(due_date) FILTER (WHERE open > 0 AND due_date < %(on)s) FROM o),
       (SELECT coalesce(sum(amount), 0) FROM ledger_entry WHERE customer_id = s.id),
       (SELECT array_agg(ARRAY[number, signed_on::text, ended_on::text] ORDER BY id)
        FROM contract WHERE customer_id = s.id)
FROM s
"""


@app.get("/page1")
def one_round_trip():
    row = conn().execute(ONE_STATEMENT, {"token_hash": token_hash(), "on": date.today()},
                         prepare=True).fetchone()
    if row is None:
        abort(401)
    contracts = [(number, date.fromisoformat(signed), ended and date.fromisoformat(ended))
                 for number, signed, ended in row[18] or ()]
    return page(row, row[14:18], contracts)
