"""Issue 13, item 1: account takeover through the reset link.

Without PUBLIC_URL the reset e-mail's link was built from the request's Host header:
``POST /password/forgot`` with ``Host: evil.example`` mailed
``http://evil.example/password/reset/<token>``. Now every absolute link in every e-mail comes
from PUBLIC_URL (web.redirects.public_url), a host that is not ours never reaches a view
(web.security.check_host), and production refuses to start without PUBLIC_URL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jana(make_customer):
    return make_customer(number="2001", password="correct-horse-1", email="jana@example.cz")


def links(outbox) -> list[str]:
    return [u for m in outbox.messages() for u in re.findall(r"https?://\S+", m.get_content())]


def test_forged_host_gets_no_reset_mail(client, outbox, jana):
    r = client.post("/password/forgot", data={"customer_number": "2001"},
                    headers={"Host": "evil.example"})
    # captured as a warned customer's browsing would be: sent to our own /warning
    assert r.status_code == 302 and r.headers["Location"] == "http://localhost/warning"
    assert outbox.messages() == []


def test_forged_host_is_refused_when_nothing_captures_it(app, client, outbox, jana):
    app.config["ENFORCEMENT_CAPTURE_FOREIGN_HOSTS"] = False
    for host in ("evil.example", "evil.example:80", "localhost.evil.example", "127.0.0.1.evil"):
        r = client.post("/password/forgot", data={"customer_number": "2001"},
                        headers={"Host": host})
        assert r.status_code == 400, host
        assert client.get("/login", headers={"Host": host}).status_code == 400, host
    assert outbox.messages() == []


def test_reset_link_comes_from_public_url_whatever_the_host(app, client, outbox, jana):
    app.config["PUBLIC_URL"] = "https://zona.example.net/zona/"
    app.config["ENFORCEMENT_OWN_HOSTS"] = ("alt.example.net",)  # a second name of ours
    for host in ("alt.example.net", "localhost", "127.0.0.1:8000"):
        r = client.post("/password/forgot", data={"customer_number": "2001"},
                        headers={"Host": host})
        assert r.status_code == 302, host
    found = links(outbox)
    assert len(found) == 3
    assert all(re.fullmatch(r"https://zona\.example\.net/zona/password/reset/[\w-]+", u)
               for u in found), found


def test_reset_link_is_usable(client, outbox, jana):
    client.post("/password/forgot", data={"customer_number": "2001"})
    [link] = links(outbox)
    assert link.startswith("http://localhost/password/reset/")
    assert client.get(link.removeprefix("http://localhost")).status_code == 200


def test_no_link_is_built_from_the_request():
    """The class of defect: absolute URLs from the request's Host anywhere in the code."""
    offenders = []
    for folder in ("zone", "voip", "enforcement", "web", "billing", "core"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for needle in ("_external=True", "request.host_url", "request.url_root",
                           "request.base_url"):
                if needle in text:
                    offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    for path in (ROOT / "templates").rglob("*"):
        if path.is_file() and re.search(r"_external|request\.(host|url)", path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# -- production refuses to start without its settings ----------------------------------------

REQUIRED = ("PUBLIC_URL", "SECRET_KEY", "DATABASE_URL", "PROXY_FIX")


@pytest.fixture
def bare_environment(monkeypatch):
    for key in (*REQUIRED, "ISPZONE_ENV", "FLASK_DEBUG"):
        monkeypatch.delenv(key, raising=False)


def production_config(database_url, tmp_path, **overrides):
    config = {"DATABASE_URL": database_url, "SECRET_KEY": "s" * 32,
              "PUBLIC_URL": "https://zona.example.net", "PROXY_FIX": "x_for=1,x_proto=1,x_host=1",
              "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")}
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def test_production_refuses_to_start_without_each_setting(bare_environment, database_url,
                                                         tmp_path):
    from app import create_app

    for key in REQUIRED:
        with pytest.raises(RuntimeError) as refused:
            create_app(production_config(database_url, tmp_path, **{key: None}))
        message = str(refused.value)
        assert f"  {key}: " in message and "refuses to start in production" in message
        assert [k for k in REQUIRED if f"  {k}: " in message] == [key]
    with pytest.raises(RuntimeError, match="PUBLIC_URL: 'zona.example.net' is not an absolute"):
        create_app(production_config(database_url, tmp_path, PUBLIC_URL="zona.example.net"))
    with pytest.raises(RuntimeError, match="PROXY_FIX: 'x_for'"):
        create_app(production_config(database_url, tmp_path, PROXY_FIX="x_for"))
    app = create_app(production_config(database_url, tmp_path, PROXY_FIX="none"))
    assert app.config["PUBLIC_URL"] == "https://zona.example.net"
    app.extensions["ispzone.engine"].dispose()


def test_production_app_serves_only_its_own_name(bare_environment, database_url, tmp_path):
    from app import create_app

    app = create_app(production_config(database_url, tmp_path,
                                       ENFORCEMENT_CAPTURE_FOREIGN_HOSTS=False))
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https"}
    assert client.get("/login", headers={**https, "Host": "zona.example.net"}).status_code == 200
    assert client.get("/login", headers={**https, "Host": "evil.example"}).status_code == 400
    # behind the proxy the forwarded host counts
    assert client.get("/login", headers={**https, "X-Forwarded-Host": "evil.example"}
                      ).status_code == 400
    # the load balancer's health check calls the backend by its address
    assert client.get("/healthz", headers={"Host": "10.0.0.5:8000"}).status_code == 200
    app.extensions["ispzone.engine"].dispose()


def test_development_and_tests_start_with_defaults(bare_environment, monkeypatch, database_url,
                                                   tmp_path):
    from app import create_app

    monkeypatch.setenv("ISPZONE_ENV", "development")
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x",
                      "MAIL_OUTBOX_DIR": str(tmp_path)})
    app.extensions["ispzone.engine"].dispose()
    monkeypatch.setenv("ISPZONE_ENV", "staging")
    with pytest.raises(RuntimeError, match="ISPZONE_ENV='staging'"):
        create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})


def test_the_command_refuses_to_start_with_a_clear_message(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (*REQUIRED, "ISPZONE_ENV")}
    env["DATABASE_URL"] = database_url
    result = subprocess.run([sys.executable, "-c", "from app import main; main()", "routes"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "refuses to start in production" in output
    for key in ("PUBLIC_URL", "SECRET_KEY", "PROXY_FIX"):
        assert f"  {key}: " in output
    assert "  DATABASE_URL: " not in output


def test_a_numeric_setting_that_is_not_a_number_stops_the_start(monkeypatch):
    from app import create_app
    from web.settings import ConfigurationError

    monkeypatch.setenv("STATEMENT_MAX_BYTES", "50MB")
    with pytest.raises(ConfigurationError, match="STATEMENT_MAX_BYTES: '50MB' is not a whole"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    monkeypatch.setenv("STATEMENT_MAX_BYTES", "-1")
    with pytest.raises(ConfigurationError, match="may not be negative"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
