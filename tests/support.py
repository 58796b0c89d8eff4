"""Plain helpers the conftests and the test helper modules (fake_routeros, nas, ...) share.

Test modules do not import this: they ask for the fixtures of tests/conftest.py (``need``,
``pg_url``, ``auth``, ...), as pytest recommends (a conftest is not a module to import from).
"""

from __future__ import annotations

import os

import pytest

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_INTEGRATION = os.environ.get("ISPZONE_REQUIRE_INTEGRATION") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip on a developer laptop when an external component is missing; fail in CI."""
    if condition:
        return
    if REQUIRE_INTEGRATION:
        pytest.fail(f"ISPZONE_REQUIRE_INTEGRATION=1 but {reason}")
    pytest.skip(reason)


def pg_schema_url(base: str, schema_name: str) -> str:
    """``base`` with its search_path set to ``schema_name``."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema_name}"
