"""The bare Flask app that bench/web.py serves as its baseline: one route returning "hello".

    gunicorn -w 2 -b 127.0.0.1:8000 --chdir bench hello_app:app
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
