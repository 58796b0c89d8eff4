"""The monthly run's e-mail written as bytes (core.mail.build_message) says what the email
package's message (core.mail.compose) said: the same headers, text and attachment once
parsed, valid MIME (RFC 5322 line lengths, RFC 2047 encoded-words, base64 in 76-character
lines), and the invoice e-mail of both languages reads the same."""

from __future__ import annotations

import os
from decimal import Decimal
from email import policy
from email.parser import BytesParser

from hypothesis import given, settings
from hypothesis import strategies as st

from core.mail import MailSettings, RawMessage, build_message, compose

SETTINGS = MailSettings(sender="Příkladnet <fakturace@priklad.net>")
PDF = b"%PDF-1.4\n" + os.urandom(3000)


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


def same_for_the_reader(new, old, subject: str) -> None:
    assert new["Subject"] == subject  # (the email package itself drops a space now and then)
    for name in ("From", "To", "Message-ID", "MIME-Version"):
        assert new[name] == old[name], name
    assert new.get_content_type() == old.get_content_type() == "multipart/mixed"
    assert new["Date"].datetime is not None
    body = new.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert body.get_content().replace("\r\n", "\n") == old.get_body(("plain",)).get_content()
    (pdf,) = new.iter_attachments()
    (old_pdf,) = old.iter_attachments()
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == old_pdf.get_filename()
    assert pdf.get_content() == old_pdf.get_content()
    assert not [part.defects for part in new.walk() if part.defects]


def well_formed(data: bytes) -> None:
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.isascii() and all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert all(len(line) <= 76 for line in rest.split(b"\r\n") if not line.startswith(b"--"))


def test_the_invoice_mail_of_the_monthly_run_parses_as_the_email_package_wrote_it():
    subject = "Faktura 2027007001 od Příkladnet s.r.o."
    body = ("Dobrý den,\n\nv příloze Vám zasíláme fakturu 2027007001 na 350,00\u00a0Kč se "
            "splatností 15.\u00a05.\u00a02027.\n\nPříkladnet s.r.o.\n")
    new = build_message(SETTINGS, "jana@example.cz", subject, body,
                        [("faktura-2027007001.pdf", "application/pdf", PDF)],
                        message_id="<invoice-2027007001@priklad.net>")
    assert isinstance(new, RawMessage)
    assert new.sender == "fakturace@priklad.net" and new.recipients == ("jana@example.cz",)
    assert new["Message-ID"] == "<invoice-2027007001@priklad.net>"
    well_formed(new.data)
    assert b"Subject: Faktura 2027007001 od =?utf-8?q?P=C5=99=C3=ADkladnet?= s.r.o.\r\n" \
        in new.data
    assert b'filename="faktura-2027007001.pdf"' in new.data
    old = compose(SETTINGS, "jana@example.cz", subject, body,
                  [("faktura-2027007001.pdf", "application/pdf", PDF)],
                  message_id="<invoice-2027007001@priklad.net>")
    same_for_the_reader(parse(new.data), parse(old.as_bytes()), subject)


def test_short_ascii_text_goes_as_it_is():
    new = build_message(SETTINGS, "john@example.com", "Invoice 1 from X", "Hello,\n\nplease pay.\n",
                        [("faktura-1.pdf", "application/pdf", PDF)], message_id="<i-1@x>")
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nHello,\r\n\r\nplease pay.\r\n" in new.data


def test_an_address_outside_plain_ascii_is_left_to_the_email_package():
    msg = build_message(SETTINGS, "jana@příklad.cz", "Faktura", "text\n", [], message_id="<i@x>")
    assert not isinstance(msg, RawMessage) and msg["To"] == "jana@příklad.cz"
    msg = build_message(SETTINGS, "Jana <jana@example.cz>", "Faktura", "text\n")
    assert not isinstance(msg, RawMessage)


words = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40)


@settings(max_examples=60, deadline=None)
@given(subject=st.lists(words, max_size=8).map(" ".join),
       body=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                    max_size=400),
       data=st.binary(max_size=400))
def test_any_subject_body_and_attachment_read_the_same(subject, body, data):
    subject = " ".join(subject.split())  # the template's first line, stripped
    body = body.strip() + "\n"
    new = build_message(SETTINGS, "c1@example.cz", subject, body,
                        [("faktura-1.pdf", "application/pdf", data)], message_id="<i-1@x>")
    old = compose(SETTINGS, "c1@example.cz", subject, body,
                  [("faktura-1.pdf", "application/pdf", data)], message_id="<i-1@x>")
    well_formed(new.data)
    same_for_the_reader(parse(new.data), parse(old.as_bytes()), subject)


def test_the_invoice_email_in_both_languages_reads_as_the_email_package_wrote_it(app):
    from types import SimpleNamespace

    from web.mail import invoice_message, render_message

    invoice = SimpleNamespace(
        kind="regular", number="2027007001", supplier_name="Příkladnet s.r.o.",
        total=Decimal("350.00"), due_date=__import__("datetime").date(2027, 5, 15),
        supplier_account="2001234588/2010", variable_symbol="1000001",
        specific_symbol="2027007001", correction_reason=None)
    with app.app_context():
        for lang in ("cs", "en"):
            for open_amount in (Decimal("0.00"), Decimal("100.00"), Decimal("350.00")):
                new = invoice_message(invoice, "jana@example.cz", lang, PDF, open_amount,
                                      "<invoice-2027007001@priklad.net>")
                old = render_message(
                    "jana@example.cz", "invoice_issued", lang=lang,
                    attachments=[("faktura-2027007001.pdf", "application/pdf", PDF)],
                    message_id="<invoice-2027007001@priklad.net>", invoice=invoice,
                    open_amount=open_amount)
                well_formed(new.data)
                same_for_the_reader(parse(new.data), parse(old.as_bytes()), old["Subject"])


def test_a_bare_carriage_return_in_the_text_never_reaches_the_server_as_it_is():
    """A CR without LF (a customer's name pasted with one) in a 7bit part would go to SMTP
    as it is: smtplib dot-stuffs only after LF, so "\\r.\\r\\n" could end the DATA early on a
    lenient server (SMTP smuggling). Such a text goes in base64 and reads the same."""
    body = "Dear customer\r.\r\nMAIL FROM:<x@evil>\nstill the text\x00.\n"
    new = build_message(SETTINGS, "c1@example.cz", "Faktura", body, [], message_id="<i-1@x>")
    assert b"\r." not in new.data.replace(b"\r\n", b"")
    assert b"\x00" not in new.data
    for line in new.data.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line
    text = parse(new.data).get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == "Dear customer\r.\nMAIL FROM:<x@evil>\nstill the text\x00.\n"


def test_the_message_id_has_the_senders_domain_in_any_form_of_mail_from():
    for sender in ("Příkladnet <fakturace@priklad.net>", "fakturace@priklad.net (Příkladnet)",
                   "fakturace@priklad.net"):
        settings = MailSettings(sender=sender)
        for build in (build_message, compose):
            msg = build(settings, "c1@example.cz", "Faktura", "text\n", [])
            data = msg.data if isinstance(msg, RawMessage) else msg.as_bytes()
            message_id = parse(data)["Message-ID"]
            assert message_id.startswith("<") and message_id.endswith("@priklad.net>"), sender


def test_spaces_between_words_outside_ascii_are_kept_in_the_subject():
    for subject in ("Faktura č.  2026 – Žluťoučký  kůň", "ó  ťď", "ó   abc", "abc  ó", "ó  "):
        new = build_message(SETTINGS, "c1@example.cz", subject, "text\n", [], message_id="<i@x>")
        well_formed(new.data)
        assert parse(new.data)["Subject"] == subject, subject
