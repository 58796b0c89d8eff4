"""The subscriber client zone: one blueprint, thin views over ``billing``."""

from flask import Blueprint

bp = Blueprint("zone", __name__)

from zone import auth, credit, email, views  # noqa: E402,F401  (register routes)
from zone import credit_services as _credit_services  # noqa: E402,F401  (issue 15: renewals, notices)
