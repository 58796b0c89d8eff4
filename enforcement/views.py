"""Enforcement's view layer and its one door into the Flask app, :func:`init_app`: the
settings, the ``/warning`` blueprint (:mod:`enforcement.warning`), the ``/radius`` endpoints
in front of Flask (:mod:`enforcement.radius.api`), the ``ispzone enforcement`` /
``ispzone worker`` commands (:mod:`enforcement.cli`), the demo step and the subscription to
``core.events.OVERDUE_DEBT_CHANGED`` (reconnect the moment a payment is paired).

The domain modules below (service, cases, policy, outbox, mailq, ...) import no Flask:
what they need of the app (its config, its instance folder, its templates) is handed to them
from here and from the CLI.
"""

from __future__ import annotations

from functools import partial

from flask import Flask

from enforcement import (
    cli,
    cli_announcements,
    config,
    demo,
    expiry,
    provisioning,
    service,
    warning,
)
from enforcement.radius import api as radius_api
from web import settings


def init_app(app: Flask) -> None:
    settings.apply(app, config.DEFAULTS)
    settings.apply(app, warning.DEFAULTS)
    settings.apply(app, radius_api.DEFAULTS)
    app.register_blueprint(warning.bp)
    warning.init_app(app)
    radius_api.install(app)
    cli.init_app(app)
    cli_announcements.init_app(app)
    service.install(app.config)
    provisioning.install(app.config)  # a moved service moves its router state
    expiry.install(app.config)  # an expired prepaid service is blocked, a renewed one let in
    hooks = app.extensions.setdefault("ispzone.demo_hooks", [])
    hooks.append(partial(demo.load, instance_path=app.instance_path))
