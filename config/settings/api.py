"""The management API (``management_api``): Django REST framework and its OpenAPI document.

Views name their own authentication and permission classes; these are the project-wide defaults of
the schema generator and of the schema's own pages (public: the document says what exists, not what
is there).
The management API's rate limit per caller is DRF's throttle rate of the ``management`` scope
(``management_api.throttling``, counted in the shared state).
"""

from .env import env

# Requests per caller per second, minute, hour or day, e.g. "600/minute"; "off": no limit.
_management_rate = env("MANAGEMENT_API_RATE", "600/minute")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "management": None if _management_rate.lower() == "off" else _management_rate,
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Management API",
    "DESCRIPTION": (
        "Users, roles, scopes, clients, tokens, consents, signing keys, initial access tokens, tool policies "
        "and audit records. "
        "Bearer tokens of this server with admin:read (reads) or admin:write (writes); the Django admin's "
        "session of a staff user whose roles grant the same scope. Requests are rate-limited per user "
        "(429 with Retry-After)."
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "PREPROCESSING_HOOKS": ["management_api.schema.only_the_api"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "management_api.schema.add_error_answers",
    ],
    # Swagger UI from this server's static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
