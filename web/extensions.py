"""Unbound Flask extensions, bound in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
# Storage comes from RATELIMIT_STORAGE_URI (memory:// or the REDIS_URL), set in create_app.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
