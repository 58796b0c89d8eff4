"""Every command's audit events name a person: ``ispzone --as LOGIN``, else the Unix user."""
import getpass
import sys

import pytest

import app
from web.cli_door import cli_actor


def test_as_names_the_operator(monkeypatch):
    monkeypatch.setenv("ISPZONE_AS", "")  # restored after the test
    monkeypatch.setattr(sys, "argv", ["ispzone", "--as", "jana", "--help"])
    with pytest.raises(SystemExit) as done:
        app.main()
    assert done.value.code == 0
    assert cli_actor() == "operator:jana"


def test_without_as_the_unix_user(monkeypatch):
    monkeypatch.delenv("ISPZONE_AS", raising=False)
    assert cli_actor() == f"operator:{getpass.getuser()}"
