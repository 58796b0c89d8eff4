"""gunicorn settings for ispzone in production (docs/deployment.md).

    gunicorn -c deploy/gunicorn.conf.py

Threaded workers (``gthread``): a client that is slow to send its request (a Content-Length
larger than the body it sends, a trickle of bytes) holds one thread of one worker, not a
whole worker as with the ``sync`` class, where two such connections stalled the app and the
FreeRADIUS endpoints with it. The reverse proxy in front (deploy/nginx/ispzone.conf) reads
every request completely before it passes it on (``proxy_request_buffering on``,
``client_body_timeout``), so slow browsers never reach gunicorn at all; the threads keep the
direct callers (FreeRADIUS on loopback, the health check) answered whatever else is going on.

Each value can be overridden by the environment variable named next to it, or on the command
line (``--bind``, ``--workers``...), which wins over this file.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


wsgi_app = "app:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")

worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count()))
threads = _int("GUNICORN_THREADS", 8)  # <= the SQLAlchemy pool (5 + 10 overflow) per worker
backlog = _int("GUNICORN_BACKLOG", 2048)

# A worker that does not check in for this long is killed and replaced. With gthread the
# worker's main loop checks in while its threads work, so this bounds a stuck worker, not a
# request; requests are bounded by the proxy's timeouts and the database's.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than FreeRADIUS rlm_rest's idle_timeout (60 s) and nginx's upstream keepalive
# timeout (60 s): the caller closes an idle connection first and never sends on one gunicorn
# is closing (docs/radius.md).
keepalive = _int("GUNICORN_KEEPALIVE", 75)

# Request size limits (gunicorn answers 400 beyond them): the request line (a URL), the
# number of header fields and the size of one; bodies are limited by nginx
# (client_max_body_size) and by the app.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# gunicorn believes X-Forwarded-Proto only from these (the local nginx); the app itself reads
# the forwarded headers through PROXY_FIX.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # "" = none
errorlog = "-"
# no request bodies, no query strings with tokens in the log: method, path and status only
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
