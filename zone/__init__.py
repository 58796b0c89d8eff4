"""The subscriber client zone: one blueprint, thin views over ``billing``."""

from flask import Blueprint

bp = Blueprint("zone", __name__)

# routes; view_as: an operator viewing the zone as a customer, read-only
from zone import auth, credit, email, support, view_as, views  # noqa: E402,F401
