"""The VoIP sub-zone at ``/voip/``: phone-suffix login, tariff lookup, coupon top-ups under a
monthly cap, credit and call history; ``ispzone voip ...`` commands for operators.

The package itself imports no Flask: its domain modules (lines, tariffs, rating, cdr,
topups, ...) are plain functions on a session. The view layer is :mod:`voip.blueprint`,
:mod:`voip.views`, :mod:`voip.auth`, :mod:`voip.forms` and the CLI (:mod:`voip.cli`,
:mod:`voip.cli_rating`); one door, :func:`voip.views.init_app`, registers the settings, the
blueprint, the CLI and the demo step.
"""
