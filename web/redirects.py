"""Where we send people: ``safe_next`` for every login door and form that redirects back,
and ``public_url`` for every absolute link that leaves the request (e-mails).

``safe_next`` accepts only a plain local path of this site. Browsers are lenient in ways a
naive ``startswith("/")`` check is not: they drop tabs, CR and LF anywhere in a URL, read
``\\`` as ``/``, and take ``//host`` (or ``/\\host``) as another site; Werkzeug itself strips
some of these characters when it writes the ``Location`` header, so
``/%09/evil.example`` became ``//evil.example`` after the check had passed. So anything that
is not printable ASCII, any backslash, any scheme or host, and a leading ``//`` are refused,
in the value as sent and after percent-decoding it (up to a few times); the answer is then
the door's default page, never an error.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import current_app, has_request_context, request, url_for

MAX_LENGTH = 2048
_DECODE_ROUNDS = 4


def _plain_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in value):  # controls, spaces, non-ASCII
        return False
    if "\\" in value:
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def is_safe_next(target: object, prefix: str = "/") -> bool:
    """Is ``target`` a local path (starting with ``prefix``) that every browser reads as one?"""
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return False
    if not _plain_local_path(target) or not target.startswith(prefix):
        return False
    # the path, percent-decoded (again and again), must still be a plain local path
    path = target.split("?", 1)[0].split("#", 1)[0]
    for _round in range(_DECODE_ROUNDS):
        decoded = unquote(path, errors="strict") if _decodes(path) else None
        if decoded is None:
            return False
        if decoded == path:
            return True
        if not _plain_local_path(decoded):
            return False
        path = decoded
    return False  # still encoded after several rounds: nobody legitimate does that


def _decodes(value: str) -> bool:
    try:
        unquote(value, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def safe_next(target: object, default_endpoint: str, prefix: str = "/") -> str:
    """``target`` when it is a safe local path under ``prefix``; else the default page."""
    if is_safe_next(target, prefix):
        return target  # type: ignore[return-value]
    return url_for(default_endpoint)


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` on ``PUBLIC_URL`` (never the request's Host header).

    Every link that leaves the request (e-mails) is built here. Without ``PUBLIC_URL`` (only
    possible in tests or development: production refuses to start without it) it fails
    loudly rather than guess."""
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    if not base:
        raise RuntimeError("PUBLIC_URL is not set: cannot build a link for an e-mail")
    path = url_for(endpoint, **values)
    if has_request_context() and request.script_root and path.startswith(request.script_root):
        path = path[len(request.script_root):]  # PUBLIC_URL carries any mount prefix itself
    return base + path
