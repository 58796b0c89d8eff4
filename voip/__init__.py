"""The VoIP sub-zone at ``/voip/``: phone-suffix login, tariff lookup, coupon top-ups under a
monthly cap, credit and call history; ``ispzone voip ...`` commands for operators.

One door: :func:`init_app` registers the settings, the blueprint, the CLI and the demo step.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("voip", __name__, url_prefix="/voip")


def init_app(app: Flask) -> None:
    from voip import cli, config, demo
    from web import settings

    settings.apply(app, config.DEFAULTS)
    from voip import views  # noqa: F401  (registers the routes on bp)

    app.register_blueprint(bp)
    cli.init_app(app)
    app.extensions.setdefault("ispzone.demo_hooks", []).append(demo.load)
