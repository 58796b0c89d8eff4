"""The subscriber client zone: one blueprint, thin views over ``billing``."""

from flask import Blueprint

bp = Blueprint("zone", __name__)

from zone import auth, email, support, views  # noqa: E402,F401  (register routes)
