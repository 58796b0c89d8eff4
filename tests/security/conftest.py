"""The VoIP fixtures, for the tests of every login door."""

from tests.voip.conftest import make_line  # noqa: F401
