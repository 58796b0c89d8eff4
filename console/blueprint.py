"""The operator console's Flask blueprint at ``/console/`` (docs/console.md). Each area's
views are a module ``console/views_<area>.py`` listed in :data:`console.AREAS`."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
