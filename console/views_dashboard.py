"""The console's start page (``/console/``): the day at a glance."""

from __future__ import annotations

from flask import render_template

from console.auth import ALL, allow
from console.blueprint import bp


@bp.get("/")
@allow(*ALL)
def index():
    return render_template("console/index.html")
