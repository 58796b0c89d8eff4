"""Enforcement: reminders, the on-screen warning and its acknowledgement, disconnection and
reconnection through the routers (RouterOS API, RADIUS), and the FreeRADIUS rest answers.

One door: :func:`init_app` registers the settings, the ``/warning`` and ``/radius``
blueprints, the ``ispzone enforcement`` / ``ispzone worker`` commands, the demo step and the
subscription to ``core.events.OVERDUE_DEBT_CHANGED`` (reconnect the moment a payment is
paired).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from enforcement import cli, config, service, warning
    from enforcement.radius import api as radius_api
    from web import settings

    settings.apply(app, config.DEFAULTS)
    settings.apply(app, warning.DEFAULTS)
    settings.apply(app, radius_api.DEFAULTS)
    app.register_blueprint(warning.bp)
    warning.init_app(app)
    radius_api.install(app)
    cli.init_app(app)
    service.install(app)
    from enforcement import demo

    app.extensions.setdefault("ispzone.demo_hooks", []).append(demo.load)
