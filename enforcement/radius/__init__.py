"""The RADIUS dictionary ispzone ships for pyrad (``enforcement/radius/dictionary``).

pyrad has no usable dictionary of its own and cannot read FreeRADIUS's whole tree, so the
project carries the few attributes it uses (RFC 2865/2866/2869/5176 and the MikroTik
vendor block; docs/facts/rfc5176.md). It is loaded once per process: parsing takes milliseconds, but a driver or a
test NAS is created often, and a :class:`pyrad.dictionary.Dictionary` is only read after
loading, so one instance can be shared.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path

ERROR_CAUSE_SESSION_NOT_FOUND = 503
ERROR_CAUSE_RESOURCES_UNAVAILABLE = 506


def dictionary_path() -> str:
    """The main dictionary file (it ``$INCLUDE``s the vendor file next to it)."""
    return str(Path(__file__).with_name("dictionary"))


@lru_cache(maxsize=1)
def load_dictionary():
    """The shipped dictionary as a pyrad ``Dictionary`` (cached; treat it as read-only)."""
    from pyrad.dictionary import Dictionary

    return Dictionary(dictionary_path())


def error_cause_name(code: int) -> str:
    """``503`` -> ``"Session-Context-Not-Found"`` (from the dictionary's VALUEs)."""
    values = load_dictionary().attributes["Error-Cause"].values  # name -> encoded value
    encoded = struct.pack("!I", code)
    if values.HasBackward(encoded):
        return values.GetBackward(encoded)
    return "unknown"
