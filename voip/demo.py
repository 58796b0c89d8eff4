"""The VoIP part of ``ispzone demo`` (runs after billing's demo, in its transaction)."""

from __future__ import annotations


def load(session, supplier, config) -> str:
    return ""
