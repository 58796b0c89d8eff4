"""The VoIP sub-zone's Flask blueprint at ``/voip/`` (routes in :mod:`voip.views` and
:mod:`voip.auth`; the package's door into the app is :func:`voip.views.init_app`)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("voip", __name__, url_prefix="/voip")
