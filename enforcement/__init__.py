"""Enforcement: reminders, the on-screen warning and its acknowledgement, disconnection and
reconnection through the routers (RouterOS API, RADIUS), and the FreeRADIUS rest answers.

The package itself imports no Flask. The view layer is :mod:`enforcement.views` (the one
door, :func:`enforcement.views.init_app`), :mod:`enforcement.warning` (the ``/warning``
pages), :mod:`enforcement.radius.api` (the ``/radius`` endpoints) and :mod:`enforcement.cli`;
everything else is domain code on a session.
"""
