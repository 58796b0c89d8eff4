"""Czech is the default language: every UI string is translated, and the pages and e-mails a
Czech customer sees are in Czech.

A developer who adds ``_("...")`` without translating it gets a failing test naming the
string. To fix it::

    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o /tmp/messages.pot .
    .venv/bin/pybabel update -i /tmp/messages.pot -d translations --no-fuzzy-matching

then translate the new entries in ``translations/cs/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from gettext import GNUTranslations
from pathlib import Path

import pytest
from babel.messages import frontend
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from markupsafe import escape

from billing.bank import pairing as billing_payments
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.models import BankTransaction, Service, TrafficDay
from core.clock import today
from web.i18n import catalog_files, load_catalog

ROOT = Path(__file__).resolve().parents[2]
CS_PO = ROOT / "translations" / "cs" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# The menu and the account box of every page a logged-in customer sees.
ENGLISH_MENU = (
    "Invoices",
    "Payments",
    "Log out",
    "Services",
    "Information",
    "Data transfer",
    "Change password",
    "Client zone",
)
CZECH_MENU = (
    "Faktury",
    "Platby",
    "Odhlásit",
    "Služby",
    "Informace",
    "Přenesená data",
    "Změna hesla",
    "Zákaznická zóna",
)
SUPPLIER = Supplier(account="2001234588/2010", iban="CZ6220100000002001234588")


# -- the catalog -----------------------------------------------------------------------------


def _key(msgid) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _mapping():
    with (ROOT / "babel.cfg").open() as f:
        parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
        return parse(f, str(ROOT / "babel.cfg"))


@pytest.fixture(scope="module")
def extracted() -> dict[str, list[str]]:
    """msgid -> where it is used, from a fresh extraction with the method map of babel.cfg."""
    method_map, options_map = _mapping()
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(_key(message), []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def catalog():
    """messages.po merged with the packages' messages-*.po (see web.i18n.catalog_files)."""
    return load_catalog(CS_PO.parent, locale="cs")


def test_extraction_sees_python_and_templates(extracted):
    where = {loc.split(":")[0] for locs in extracted.values() for loc in locs}
    assert "zone/forms.py" in where and "zone/auth.py" in where
    assert "templates/base.html" in where and "templates/email/password_reset.txt" in where
    assert not any(w.startswith((".venv", "tests/", "bench/")) for w in where)
    # the refusals marked with core.i18n._l (issue 14): their msgids are walked too
    for marked in ("voip/topups.py", "voip/tariff_import.py", "voip/cdr_parse.py",
                   "enforcement/announcements.py", "billing/invoicing/monthly_run.py",
                   "billing/bank/statements/gpc.py", "billing/bank/statements/fio.py",
                   "billing/bank/statements/camt.py", "billing/cash/payments.py"):
        assert marked in where, marked
    assert len(extracted) > 150


def test_every_extracted_string_is_in_the_czech_catalog(extracted, catalog):
    missing = sorted(
        f"{msgid!r} ({', '.join(locs)})"
        for msgid, locs in extracted.items()
        if catalog.get(msgid) is None
    )
    assert not missing, "not in translations/cs/LC_MESSAGES/messages.po:\n" + "\n".join(missing)


def test_every_czech_entry_is_still_used(extracted, catalog):
    """A catalog entry whose English text no code extracts and no source file holds (a
    refusal raised as a plain string is looked up as it is, core.errors) is dead: it leaves
    the catalog with the change that retired its text (docs/console.md)."""
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for pattern in ("*.py", "*.html", "*.txt")
        for path in ROOT.rglob(pattern)
        if not path.relative_to(ROOT).as_posix().startswith((".venv/", "tests/", "bench/",
                                                             "build/")))
    dead = sorted(
        _key(message.id) for message in catalog
        if message.id and _key(message.id) not in extracted
        and _key(message.id) not in sources)
    assert not dead, "no code uses these Czech catalog entries:\n" + "\n".join(map(repr, dead))


def test_czech_catalog_has_no_untranslated_or_fuzzy_entries(catalog):
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    assert catalog.plural_forms.startswith("nplurals=3;")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {_key(message.id)!r}")
        elif message.pluralizable and len(strings) != catalog.num_plurals:
            problems.append(f"needs {catalog.num_plurals} plural forms: {_key(message.id)!r}")
        elif not all(s.strip() for s in strings):
            problems.append(f"untranslated: {_key(message.id)!r}")
    assert not problems, "\n".join(problems)


def test_translations_keep_the_placeholders(catalog):
    problems = [f"{m.id!r}: {errors}" for m, errors in catalog.check()]
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != wanted:
                problems.append(f"{_key(message.id)!r} -> {s!r}: placeholders differ")
    assert not problems, "\n".join(problems)


def test_compiled_catalog_translates_every_string(catalog):
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    compiled = GNUTranslations(buf)
    for message in catalog:
        if message.id and not message.pluralizable:
            assert compiled.gettext(message.id) == message.string, message.id


def test_app_compiles_the_czech_catalog_at_start(app, catalog):
    mo = CS_PO.with_suffix(".mo")  # written by web.i18n when the app is created
    newest = max(p.stat().st_mtime for p in catalog_files(CS_PO.parent))
    assert mo.exists() and mo.stat().st_mtime >= newest
    with mo.open("rb") as f:
        compiled = GNUTranslations(f)
    untranslated = [
        m.id for m in catalog if m.id and not m.pluralizable and compiled.gettext(m.id) != m.string
    ]
    assert not untranslated


# -- what a Czech customer sees ---------------------------------------------------------------


@pytest.fixture
def jana(make_customer):
    return make_customer(number="4001", password="secret-pass", internet_ip="10.30.0.7")


@pytest.fixture
def logged_in(auth, client, jana):
    assert auth.login("4001", "secret-pass").status_code == 302
    return client


def _some_data(session, customer):
    """An invoice, a partial payment and two days of traffic, so that the tables are shown."""
    issued = today() - timedelta(days=20)
    invoice = issue_invoice(
        session,
        customer,
        [LineInput("Internet 100", Decimal("1"), Decimal("450.00"), unit="měs.")],
        SUPPLIER,
        IssueOptions(kind="regular", issue_date=issued, due_date=issued + timedelta(days=14)),
    )
    session.commit()
    tx = BankTransaction(
        source_account="2001234567/2010",
        bank_tx_id="i18n-1",
        booked_on=today(),
        amount=Decimal("100.00"),
        variable_symbol=invoice.variable_symbol,
    )
    session.add(tx)
    session.flush()
    billing_payments.pair(session, tx)
    service = session.query(Service).filter_by(customer_id=customer.id, kind="internet").one()
    start = today().replace(day=1)
    session.add(
        TrafficDay(service_id=service.id, day=start, bytes_down=1_500_000_000, bytes_up=2_000_000)
    )
    session.commit()
    return invoice, service


def _english_leftovers(html: str, catalog) -> list[str]:
    """UI strings shown untranslated, as whole text of an element."""
    left = []
    for message in catalog:
        if message.id and not message.pluralizable and message.string != message.id:
            if not PLACEHOLDER.search(message.id) and f">{escape(message.id)}<" in html:
                left.append(message.id)
    return left


def test_login_page_is_czech_by_default_and_english_on_request(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="cs">' in html
    assert "Zákaznické číslo" in html and "Přihlásit" in html and "Heslo" in html
    assert "Customer number" not in html
    r = client.post("/language", data={"lang": "en", "next": "/login"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Customer number" in html and "Log in" in html
    assert "Zákaznické číslo" not in html


def test_login_errors_are_czech(auth, client, jana):
    html = auth.login("4001", "wrong-pass").get_data(as_text=True)
    assert "Nesprávné zákaznické číslo nebo heslo." in html
    html = client.post("/login", data={}).get_data(as_text=True)
    assert "Customer number" not in html


@pytest.mark.parametrize(
    ("path", "czech"),
    [
        ("/info", ("Kontaktní údaje", "Zákaznické číslo", "Smlouvy")),
        ("/services", ("Stahování / odesílání", "Místo instalace", "měsíčně")),
        ("/invoices", ("Vystaveno", "Splatnost", "po splatnosti", "Stáhnout fakturu")),
        ("/payments", ("Variabilní symbol", "Uhrazené faktury")),
        ("/traffic", ("Staženo", "Odesláno", "Stahování", "Odesílání", "Přehled po dnech")),
        ("/password", ("Současné heslo", "Nové heslo")),
        ("/info/edit", ("Ulice a číslo domu", "PSČ", "Uložit")),
    ],
)
def test_customer_pages_are_czech(logged_in, session, jana, catalog, path, czech):
    _some_data(session, jana)
    r = logged_in.get(path)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="cs">' in html
    for word in CZECH_MENU + czech:
        assert word in html, f"{word!r} missing on {path}"
    for word in ENGLISH_MENU:
        assert word not in html, f"English {word!r} on {path}"
    left = _english_leftovers(html, catalog)
    assert not left, f"untranslated on {path}: {left}"


def test_invoice_and_service_details_are_czech(logged_in, session, jana, catalog):
    invoice, service = _some_data(session, jana)
    html = logged_in.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    for word in (
        "Faktura",
        "Datum vystavení",
        "Datum uskutečnění zdanitelného plnění",
        "Datum splatnosti",
        "Variabilní symbol",
        "Rekapitulace DPH",
        "Zbývá uhradit",
        "Platební údaje",
    ):
        assert word in html, word
    assert not _english_leftovers(html, catalog)
    html = logged_in.get(f"/services/{service.id}").get_data(as_text=True)
    for word in ("Rychlost stahování", "Rychlost odesílání", "Platnost od", "včetně DPH 21 %"):
        assert word in html, word
    assert not _english_leftovers(html, catalog)


def test_error_page_is_czech(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert "Stránka nenalezena" in r.get_data(as_text=True)


def test_logout_message_is_czech(logged_in):
    r = logged_in.post("/logout", follow_redirects=True)
    assert "Byli jste odhlášeni." in r.get_data(as_text=True)


def _last_mail(outbox):
    mail = outbox.messages()[-1]
    return mail["Subject"], mail.get_body(preferencelist=("plain",)).get_content()


def test_password_reset_mail_is_czech_for_a_czech_customer(client, jana, outbox):
    r = client.post("/password/forgot", data={"customer_number": "4001"}, follow_redirects=True)
    assert "Pokud zadané zákaznické číslo existuje" in r.get_data(as_text=True)
    subject, body = _last_mail(outbox)
    assert subject == "Obnovení hesla do zákaznické zóny"
    assert "Dobrý den," in body and "zákaznickému číslu 4001" in body
    assert "vyprší za 1 hodinu):" in body and "/password/reset/" in body
    assert "password" not in subject.lower() and "Hello" not in body


def test_password_reset_mail_is_english_for_an_english_customer(client, make_customer, outbox):
    make_customer(number="4002", language="en")
    client.post("/password/forgot", data={"customer_number": "4002"})
    subject, body = _last_mail(outbox)
    assert subject == "Reset of your client zone password"
    assert "Hello," in body and "4002" in body
    assert "expires in 1 hour):" in body and "hour(s)" not in body


def test_password_reset_mail_says_the_hours_in_good_czech(app, client, jana, outbox):
    app.config["PASSWORD_RESET_HOURS"] = 3
    client.post("/password/forgot", data={"customer_number": "4001"})
    assert "vyprší za 3 hodiny):" in _last_mail(outbox)[1]


def test_operator_mail_about_changed_contact_is_czech(logged_in, outbox):
    data = {
        "name": "Jana Dvořáková",
        "street": "Husova 5",
        "city": "Kolín",
        "postal_code": "280 02",
        "email": "jana@example.cz",
        "phone": "601 234 567",
    }
    assert logged_in.post("/info/edit", data=data).status_code == 302
    subject, body = _last_mail(outbox)
    assert subject == "Zákazník 4001 změnil kontaktní údaje"
    assert "Telefon: +420777123456 -> +420601234567" in body
    assert "IP adresa: 127.0.0.1" in body


def test_forced_locale_governs_templates_and_filters_then_the_page_language_returns(app):
    """An e-mail rendered in the customer's language in the middle of a Czech request (as
    web.mail.send_template does with force_locale) gets English words, amounts and dates;
    the request's own language comes back afterwards."""
    from datetime import date

    from flask import render_template_string
    from flask_babel import force_locale

    page = "{{ _('Log out') }} | {{ amount|money }} | {{ day|date }}"
    values = {"amount": Decimal("1234.5"), "day": date(2026, 11, 22)}
    with app.test_request_context("/login"):
        czech = render_template_string(page, **values)
        with force_locale("en"):
            english = render_template_string(page, **values)
        again = render_template_string(page, **values)
    assert czech == "Odhlásit se | 1\u00a0234,50\u00a0Kč | 22.\u00a011.\u00a02026"
    assert english == "Log out | CZK\u00a01,234.50 | 22 Nov 2026"
    assert again == czech
