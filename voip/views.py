"""VoIP zone views (thin: forms in, one domain call, redirect)."""

from voip import bp  # noqa: F401
