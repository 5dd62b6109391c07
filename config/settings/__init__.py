"""Project settings (``DJANGO_SETTINGS_MODULE=config.settings``), one concern per module.

Every value has a safe default for the first local run; production sets the variables listed in
docs/configuration.md (``SECRET_KEY``, ``ALLOWED_HOSTS``, ``PUBLIC_URL``, ``DATABASE_URL``,
``REDIS_URL``, ...).
Only ``env`` reads ``os.environ``; the other parts read variables through its helpers.

The parts are imported in this order, and each one imports what it uses from an earlier one by
name, so a part never depends on a setting defined after it:

- ``env``: the helpers, the checkout's directory, DEBUG, SECRET_KEY and the public URLs (the issuer
  and the MCP resource) every other part derives from;
- ``base``: the Django project itself: apps, middleware, templates, accounts, i18n, static files;
- ``security``: hosts, HTTPS and proxy headers, cookies, security headers, CORS;
- ``data``: the database, Django's cache and the shared state;
- ``oauth``: the authorization server (django-oauth-toolkit's settings and ``AUTHSERVER``);
- ``mcp``: the MCP resource server (``MCPSERVER``);
- ``api``: the management API (Django REST framework, drf-spectacular);
- ``operations``: logging and ``OBSERVABILITY``.
"""

# In dependency order, as listed above.
# isort: off
from .env import *  # noqa: F403
from .base import *  # noqa: F403
from .security import *  # noqa: F403
from .data import *  # noqa: F403
from .oauth import *  # noqa: F403
from .mcp import *  # noqa: F403
from .api import *  # noqa: F403
from .operations import *  # noqa: F403
# isort: on
