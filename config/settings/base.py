"""The Django project itself: apps, fixtures, middleware, URLs, templates, accounts, i18n, static files,
body size."""

from pathlib import Path

from .env import BASE_DIR, DEBUG, env, env_int

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Django's Tasks framework (the django-tasks backport) and its database backend: MCP tasks run there.
    "django_tasks",
    "django_tasks_db",
    "authserver",
    "mcpserver",
    "observability",
    # The example app: what a project's own app with MCP tools looks like (README, "Example app").
    "notes",
    "management_api",
]

# Django fixtures outside any app: the demo and example data (``manage.py seed_demo``, ``loaddata``).
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

# One list for every request. The browser-page middleware (and django-cors-headers) are config.middleware's
# subclasses of the usual classes: the same, except that they pass requests to the MCP endpoint (/mcp, a
# bearer-token API) straight through. Its views must not touch request.user or request.session.
MIDDLEWARE = [
    # Outermost: the request id, latency, count and access line cover every other middleware.
    "observability.middleware.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.CorsMiddleware",
    "config.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    # In Django's order (the session before CSRF, the user and messages). /mcp passes by the session,
    # CSRF (Django's own class; the endpoint's view is csrf_exempt), the user and messages in one step
    # (config.middleware).
    "config.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost: an unreachable database or cache raised by a view is a 503 with Retry-After.
    "authserver.outages.OutageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Flash messages (admin actions, the consents page) live in the session those pages already have:
# the default cookie-then-session storage would build a signed-cookie reader on every request, API
# calls included, which never use messages.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- identity ---
AUTH_USER_MODEL = "authserver.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# User passwords keep Django's strong default (PBKDF2, first in the list). Client secrets are long
# random strings and use the fast salted hasher named by CLIENT_SECRET_HASHER (config.settings.oauth).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "authserver.hashers.ClientSecretHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT")) if env("STATIC_ROOT") else BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 1024 * 1024)
