"""Web plumbing shared by the zone, the VoIP zone and enforcement pages.

Extensions (unbound), the per-request database session, server-side login sessions,
throttling, mail, formatting filters and the CLI. The domain lives in ``billing``.
"""
