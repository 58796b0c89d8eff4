"""Every request body is capped (MAX_CONTENT_LENGTH: the largest upload, STATEMENT_MAX_BYTES,
and a margin for its form), chunked bodies without a Content-Length too: past it the answer is
413 with a page in the reader's language, read no further, and nothing is stored."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app import FORM_MARGIN
from billing.models import StatementUpload

LIMIT = 2000  # STATEMENT_MAX_BYTES of these tests


@pytest.fixture
def app_config(app_config):
    return {**app_config, "STATEMENT_MAX_BYTES": LIMIT}


def body(size: int) -> tuple[bytes, str]:
    boundary = "testboundary"
    data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"statement\"; "
            f"filename=\"vypis.gpc\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + b"0" * size + f"\r\n--{boundary}--\r\n".encode()
    return data, f"multipart/form-data; boundary={boundary}"


def uploads(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(StatementUpload))


def test_the_cap_is_the_largest_upload_and_its_form(app):
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT + FORM_MARGIN


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_is_refused_with_413_and_nothing_is_stored(
        console_client, session, chunked):
    billing = console_client("billing")
    billing.post("/language", data={"lang": "cs"})
    data, content_type = body(LIMIT + FORM_MARGIN + 1)
    if chunked:  # no Content-Length (gunicorn marks such a body terminated): read up to the cap
        response = billing.post("/console/payments/upload", input_stream=io.BytesIO(data),
                                content_type=content_type,
                                headers={"Transfer-Encoding": "chunked"},
                                environ_overrides={"wsgi.input_terminated": True})
    else:
        response = billing.post("/console/payments/upload", data=data,
                                content_type=content_type)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Nahrávaný soubor je příliš velký" in page
    assert f"nejvýše {LIMIT + FORM_MARGIN:,}".replace(",", "\u00a0") in page
    assert uploads(session) == 0


def test_a_file_over_the_statement_limit_but_under_the_cap_gets_the_uploads_own_refusal(
        console_client, session):
    billing = console_client("billing")
    data, content_type = body(LIMIT + 1)
    response = billing.post("/console/payments/upload", data=data, content_type=content_type)
    assert response.status_code == 422
    assert uploads(session) == 0
