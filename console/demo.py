"""The demo's operators (``ispzone demo``): ``admin`` / ``demo-admin`` (role admin) with a
fixed TOTP secret that README prints, so anyone can log in with an authenticator app, and
``podpora`` / ``demo-podpora`` (support), who has no second factor."""

from __future__ import annotations

from billing import operators

DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPISPZONEDEMOADMIN"  # base32; README, "Operator console"
ACTOR = "system:demo"


def load(session, _supplier, _config) -> str:
    made = []
    if operators.find(session, "admin") is None:
        admin = operators.create(session, "admin", role="admin", password="demo-admin",
                                 name="Demo Admin", email="admin@priklad.net", actor=ACTOR)
        operators.set_fixed_totp(session, admin, DEMO_TOTP_SECRET)
        made.append("admin/demo-admin (TOTP secret in README)")
    if operators.find(session, "podpora") is None:
        operators.create(session, "podpora", role="support", password="demo-podpora",
                         name="Petra Podporová", email="podpora@priklad.net", actor=ACTOR)
        made.append("podpora/demo-podpora")
    return f"console operators: {', '.join(made)}" if made else ""
