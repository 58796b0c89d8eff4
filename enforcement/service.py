"""Applies the policy: the sweep, reconnect on payment, operators' commands."""

from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    pass
