"""The browser security headers of every response, and the check of the ``Host`` header.

One place sets the headers (:func:`add_headers`, an ``after_request`` hook), so every page,
redirect, error page, static file and PDF gets them:

* ``Content-Security-Policy``: our own origin only, no inline script or style (the templates
  have none; the charts and QR codes are inline SVG with presentation attributes), no
  plugins, no ``<base>``, forms post only to us, and no framing (``frame-ancestors 'none'``);
* ``X-Frame-Options: DENY`` for browsers without CSP 2, ``X-Content-Type-Options: nosniff``;
* ``Referrer-Policy: same-origin`` (reset links carry a token in the path; CSRF over HTTPS
  needs the Referer of our own pages, so not ``no-referrer``);
* ``Permissions-Policy`` denying the powerful features we never use;
* ``Cross-Origin-Opener-Policy`` / ``Cross-Origin-Resource-Policy: same-origin``;
* ``Strict-Transport-Security`` only on responses to HTTPS requests (behind a proxy the
  scheme comes from ``PROXY_FIX``'s ``x_proto``).

A view that needs something else sets the header itself; it is never overwritten.
``ispzone security headers`` prints the headers of every page.

Host names: every absolute link in e-mails is built from ``PUBLIC_URL`` (web.redirects), not
from the request. Besides, a request whose ``Host`` is not one of ours (``PUBLIC_URL``'s,
``SERVER_NAME``, ``ENFORCEMENT_OWN_HOSTS``, loopback) never reaches a view: a package may
answer it (the warning capture redirects a warned customer's browsing to ``/warning``,
enforcement.warning), else it gets 400. Health checks (:data:`ANY_HOST_ENDPOINTS`) are
answered whatever the name: a load balancer calls the backend by its address. This is the
job of Flask's ``TRUSTED_HOSTS``, done here because Flask's check runs before routing (it
would refuse the health checks and the captured traffic alike) and matches neither IPv6
literals nor upper-case names.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import click
from flask import Flask, Response, abort, current_app, request
from flask.cli import AppGroup

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": (
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        "microphone=(), payment=(), usb=()"
    ),
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000"

LOOPBACK = ("localhost", "127.0.0.1", "::1")
# machines call these by the server's address: answered whatever the Host header says
ANY_HOST_ENDPOINTS = ("zone.healthz",)
FOREIGN_HOST_HANDLERS = "ispzone.foreign_host_handlers"


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
    # first of all before_request hooks: nothing runs for a host that is not ours
    app.before_request_funcs.setdefault(None, []).insert(0, check_host)


_LOWER = tuple((name.lower(), name, value) for name, value in HEADERS.items())


def add_headers(response: Response) -> Response:
    # what setdefault() per header did, with one pass over the response's headers (each
    # setdefault scanned them all, comparing lower-cased names)
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    for lower, name, value in _LOWER:
        if lower not in present:
            headers.add(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


# -- host names -------------------------------------------------------------------------------


def on_foreign_host(app: Flask, handler: Callable[[], Response | None]) -> None:
    """``handler`` may answer a request for a host that is not ours (else: 400)."""
    app.extensions.setdefault(FOREIGN_HOST_HANDLERS, []).append(handler)


def normalise_host(host: str | None) -> str:
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _names(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    return [v.strip() for v in value if v and v.strip()]


def trusted_hosts(config) -> set[str]:
    """Our host names; empty (no check) only when none is configured, which production
    does not allow (``PUBLIC_URL`` is required)."""
    hosts = {normalise_host(h) for h in _names(config.get("ENFORCEMENT_OWN_HOSTS"))}
    if config.get("PUBLIC_URL"):
        hosts.add(normalise_host(urlsplit(config["PUBLIC_URL"].strip()).netloc))
    if config.get("SERVER_NAME"):
        hosts.add(normalise_host(config["SERVER_NAME"]))
    hosts.discard("")
    return hosts | set(LOOPBACK) if hosts else set()


def check_host():
    hosts = trusted_hosts(current_app.config)
    if not hosts:
        return None
    raw = request.environ.get("HTTP_HOST")
    if raw is None or normalise_host(raw) in hosts:
        return None  # (no Host header at all: HTTP/1.0, nothing to be misled by)
    if request.endpoint in ANY_HOST_ENDPOINTS:
        return None
    for handler in current_app.extensions.get(FOREIGN_HOST_HANDLERS, ()):
        answer = handler()
        if answer is not None:
            return answer
    abort(400)


# -- ispzone security headers -----------------------------------------------------------------


security_group = AppGroup("security", help="Browser security of the web pages.")

SHOWN = (*HEADERS, "Strict-Transport-Security")


def page_paths(app: Flask) -> list[tuple[str, str]]:
    """(endpoint, path) of every GET route; each parameter is "1" (fits every converter)."""
    pages = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()):
            continue
        values = {name: "1" for name in rule.arguments}
        if rule.endpoint == "static":
            values = {"filename": "zone.css"}
        path = rule.build(values, append_unknown=False)[1]
        pages.append((rule.endpoint, path))
    return pages


@security_group.command("headers")
@click.option("--https/--http", default=True, show_default=True,
              help="ask as over HTTPS (as behind the TLS proxy), so HSTS shows")
def headers_command(https: bool) -> None:
    """Request every page (GET, not logged in, through the app itself, nothing is sent
    over the network) and print its status and security headers."""
    app = current_app._get_current_object()
    client = app.test_client()
    host = urlsplit(app.config.get("PUBLIC_URL") or "http://localhost").netloc
    base = f"{'https' if https else 'http'}://{host}"
    missing = 0
    for endpoint, path in page_paths(app):
        response = client.get(path, base_url=base)
        click.echo(f"GET {path}  ({endpoint})  {response.status}")
        for name in SHOWN:
            value = response.headers.get(name)
            if value is None and (name != "Strict-Transport-Security" or https):
                missing += 1
            click.echo(f"    {name}: {value if value is not None else '(missing)'}")
        response.close()
    if missing:
        raise click.ClickException(f"{missing} security header(s) missing")
