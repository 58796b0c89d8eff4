"""FreeRADIUS rlm_rest answers: ``POST /radius/authorize`` and ``POST /radius/accounting``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("radius", __name__, url_prefix="/radius")

DEFAULTS: dict = {}
