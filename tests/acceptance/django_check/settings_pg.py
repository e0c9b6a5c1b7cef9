"""The fixture Django project's settings, pointed at PostgreSQL (STOCKFLOW_DJANGO_PG_URL, a libpq URL)."""
import os
from urllib.parse import unquote, urlparse

from inventory_site.settings import *  # noqa: F401,F403  (the project's own settings, unchanged otherwise)

_url = urlparse(os.environ["STOCKFLOW_DJANGO_PG_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
    }
}
