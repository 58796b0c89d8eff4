"""QR codes of QR Platba strings, fast: alphanumeric mode, error correction level M,
mask pattern 0, versions 1-10 (up to 311 characters), as a matrix of 0/1 rows.

The monthly run prints 100,000 different SPAYD strings (amount, symbols): nothing to cache,
and segno's general encoder (every mode, every level, Micro QR, a pure-Python mask pass)
spent about a millisecond on each, a tenth of a worker's CPU per e-mail. Here the parts
that depend only on the version are prepared once per process (the function patterns with
the format and version information, and the data modules in placement order, from segno
itself), so a code costs the bit stream, the Reed-Solomon blocks and one pass over the data
modules. The result is exactly segno's ``make(data, error="m", mask=0, micro=False,
boost_error=False).matrix`` (tests/billing/test_qr_alnum.py compares); strings outside the
alphanumeric set or longer than version 10 holds return None (the caller uses segno).

ISO/IEC 18004:2015: 7.4.4 (alphanumeric mode), 7.4.9-10 (terminator, padding), 7.5
(Reed-Solomon over GF(256), polynomial 0x11D), Table 9 (blocks of level M), 7.6
(interleaving), 7.7.3 (placement), 7.8.2 (mask 0: (i + j) mod 2 == 0).
"""

from __future__ import annotations

import threading
from functools import cache

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {ch: i for i, ch in enumerate(ALPHANUMERIC)}

# level M, versions 1-10: (error correction codewords per block, [(blocks, data codewords)])
_BLOCKS_M = {
    1: (10, [(1, 16)]),
    2: (16, [(1, 28)]),
    3: (26, [(1, 44)]),
    4: (18, [(2, 32)]),
    5: (24, [(2, 43)]),
    6: (16, [(4, 27)]),
    7: (18, [(4, 31)]),
    8: (22, [(2, 38), (2, 39)]),
    9: (22, [(3, 36), (2, 37)]),
    10: (26, [(4, 43), (1, 44)]),
}
_DATA_CODEWORDS = {v: sum(n * k for n, k in blocks) for v, (_, blocks) in _BLOCKS_M.items()}

# GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


@cache
def _generator_rows(ecc: int) -> tuple[tuple[int, ...], ...]:
    """For each feedback byte f: f times the generator polynomial of degree ``ecc`` (its
    coefficients after the leading 1), so one division step is a row XOR."""
    gen = [1]
    for i in range(ecc):  # (x - a^0)(x - a^1)...(x - a^(ecc-1))
        nxt = [0] * (len(gen) + 1)
        for j, coef in enumerate(gen):
            nxt[j] ^= coef
            if coef:
                nxt[j + 1] ^= _EXP[_LOG[coef] + i]
        gen = nxt
    tail = gen[1:]
    rows = [tuple([0] * ecc)]
    for f in range(1, 256):
        lf = _LOG[f]
        rows.append(tuple(_EXP[lf + _LOG[c]] if c else 0 for c in tail))
    return tuple(rows)


def _ecc(data: list[int], ecc: int) -> list[int]:
    rows = _generator_rows(ecc)
    rem = [0] * ecc
    for byte in data:
        row = rows[byte ^ rem[0]]
        rem = [a ^ b for a, b in zip(rem[1:] + [0], row, strict=True)]
    return rem


def _version_for(n: int) -> int | None:
    for version in range(1, 11):
        count_bits = 9 if version < 10 else 11
        bits = 4 + count_bits + 11 * (n // 2) + 6 * (n % 2)
        if bits <= _DATA_CODEWORDS[version] * 8:
            return version
    return None


def _codewords(data: str, version: int) -> bytes:
    """The data codewords (mode, count, characters, terminator, padding)."""
    count_bits = 9 if version < 10 else 11
    value, length = 0b0010, 4
    value = (value << count_bits) | len(data)
    length += count_bits
    values = [_VALUE[ch] for ch in data]
    for i in range(0, len(values) - 1, 2):
        value = (value << 11) | (values[i] * 45 + values[i + 1])
        length += 11
    if len(values) % 2:
        value = (value << 6) | values[-1]
        length += 6
    capacity = _DATA_CODEWORDS[version] * 8
    terminator = min(4, capacity - length)
    value <<= terminator
    length += terminator
    # to the codeword boundary; like segno, a whole zero byte when already on one (still
    # valid: a reader stops at the terminator), so the codes are segno's to the bit
    pad = min(8 - length % 8, capacity - length)
    value <<= pad
    length += pad
    out = bytearray(value.to_bytes(length // 8, "big"))
    filler = (0xEC, 0x11)
    for i in range(_DATA_CODEWORDS[version] - len(out)):
        out.append(filler[i % 2])
    return bytes(out)


def _final_message(data: bytes, version: int) -> bytes:
    ecc, groups = _BLOCKS_M[version]
    blocks, pos = [], 0
    for count, size in groups:
        for _ in range(count):
            blocks.append(list(data[pos:pos + size]))
            pos += size
    ecc_blocks = [_ecc(block, ecc) for block in blocks]
    out = bytearray()
    for i in range(max(len(b) for b in blocks)):
        out.extend(b[i] for b in blocks if i < len(b))
    for i in range(ecc):
        out.extend(b[i] for b in ecc_blocks)
    return bytes(out)


class _Layout:
    """A version's fixed parts: the matrix with every function pattern, the format (level M,
    mask 0) and version information; the data modules' flat indexes in placement order and
    the mask's bits there."""

    def __init__(self, version: int) -> None:
        import segno
        from segno import encoder

        size = version * 4 + 17
        reserved = encoder.make_matrix(size, size)
        encoder.add_finder_patterns(reserved, size, size)
        encoder.add_alignment_patterns(reserved, size, size)
        order: list[int] = []
        for right in range(size - 1, 0, -2):  # 7.7.3: two-module columns, right to left
            if right <= 6:
                right -= 1
            for vertical in range(size):
                for z in (0, 1):
                    j = right - z
                    upwards = (((right & 2) == 0) ^ (j < 6))
                    i = (size - 1 - vertical) if upwards else vertical
                    if reserved[i][j] == 0x2:
                        order.append(i * size + j)
        base = segno.make("A" * _first_length(version), error="m", boost_error=False,
                          micro=False, mask=0)
        if base.version != version:  # pragma: no cover - a segno that chose otherwise
            raise RuntimeError("segno chose another version")
        self.size = size
        self.base = bytearray(b for row in base.matrix for b in row)
        self.order = order
        self.mask = [((idx // size) + (idx % size)) % 2 == 0 for idx in order]


def _first_length(version: int) -> int:
    """A length of alphanumeric text that needs exactly ``version``."""
    n = 1
    while _version_for(n) != version:
        n += 1
    return n


_layouts: dict[int, _Layout] = {}
_lock = threading.Lock()


def _layout(version: int) -> _Layout:
    layout = _layouts.get(version)
    if layout is None:
        with _lock:
            layout = _layouts.get(version) or _Layout(version)
            _layouts[version] = layout
    return layout


def qr_matrix(data: str) -> tuple[bytes, int] | None:
    """(the modules row by row, 1 = dark, without the quiet zone; modules per side), or
    None when ``data`` is not alphanumeric or too long for version 10."""
    if not data or data.isdigit() or not all(ch in _VALUE for ch in data):
        return None  # (digits only: segno takes the numeric mode)
    version = _version_for(len(data))
    if version is None:
        return None
    layout = _layout(version)
    message = _final_message(_codewords(data, version), version)
    bits = format(int.from_bytes(message, "big"), f"0{len(message) * 8}b")
    flat = bytearray(layout.base)
    n_bits = len(bits)
    for k, (idx, masked) in enumerate(zip(layout.order, layout.mask, strict=True)):
        dark = k < n_bits and bits[k] == "1"  # remainder bits are 0
        flat[idx] = dark ^ masked
    return bytes(flat), layout.size
