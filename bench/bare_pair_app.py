"""A bare Flask app with the two paths bench/peer.py --bare loads (``/bare-info``,
``/bare-invoices``): "hello", no session, no database. Served by gunicorn -w 2 like ours, it
is what no Flask page can beat in the same run against the peer on this machine."""

from flask import Flask

app = Flask(__name__)


@app.get("/bare-<name>")
def hello(name: str) -> str:
    return "hello"
