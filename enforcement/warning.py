"""The on-screen warning at ``/warning``, its acknowledgement, and the client-zone banner."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("enforcement", __name__)

DEFAULTS: dict = {}


def init_app(app: Flask) -> None:
    pass
