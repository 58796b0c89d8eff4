"""The VoIP and RADIUS fixtures, for the tests of every door."""

from tests.enforcement.conftest import pppoe  # noqa: F401
from tests.voip.conftest import make_line, voip_auth  # noqa: F401
