"""The QR Platba encoder of the PDFs (billing/documents/qr_alnum.py) draws exactly the
modules segno draws (level M, mask 0) for every length it takes, and leaves the rest to
segno; the printed code still decodes (tests/billing/test_pdf.py reads it with zbar)."""

from __future__ import annotations

import random

import pytest
import segno

from billing.documents.pdf_kit import _qr_path
from billing.documents.qr_alnum import ALPHANUMERIC, qr_matrix


def segno_modules(data: str) -> tuple[bytes, int]:
    code = segno.make(data, error="m", boost_error=False, micro=False, mask=0)
    return bytes(b for row in code.matrix for b in row), len(code.matrix)


def test_every_length_up_to_version_10_is_segnos_code():
    rng = random.Random(17)
    for n in range(1, 312):  # version 10, level M holds 311
        for _ in range(2):
            data = "".join(rng.choice(ALPHANUMERIC) for _ in range(n))
            if data.isdigit():
                continue
            assert qr_matrix(data) == segno_modules(data), (n, data)


@pytest.mark.parametrize("amount", ["1.00", "480.50", "9999999.99"])
def test_qr_platba_strings_are_segnos_code(amount):
    data = (f"SPD*1.0*ACC:CZ5855000000001265098001*AM:{amount}*CC:CZK*X-VS:1000001"
            "*X-SS:2027007001*MSG:FAKTURA 2027007001")
    assert qr_matrix(data) == segno_modules(data)


def test_anything_else_is_left_to_segno():
    assert qr_matrix("") is None
    assert qr_matrix("12345") is None  # segno's numeric mode
    assert qr_matrix("Faktura 1") is None  # lower case: byte mode
    assert qr_matrix("A" * 312) is None  # beyond version 10


def test_the_pdf_path_is_the_same_whichever_encoder_drew_it():
    data = "SPD*1.0*ACC:CZ5855000000001265098001*AM:350.00*CC:CZK*MSG:FAKTURA 1"
    ops, count = _qr_path.__wrapped__(data, 4)
    modules, size = segno_modules(data)
    assert count == size
    drawn = bytearray(size * size)
    for op in ops.split("\n")[:-1]:
        x, y, width, _, _ = op.split()
        row = size + 4 - 1 - int(y)
        for col in range(int(x) - 4, int(x) - 4 + int(width)):
            drawn[row * size + col] = 1
    assert bytes(drawn) == modules and ops.endswith("\nf")
