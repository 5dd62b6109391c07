"""The public documents a client discovers this server by: RFC 8414 metadata and the JWK Set.

Both are the same for every caller: cacheable by anyone for five minutes and readable cross-origin.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views import View
from oauth2_provider import views as dot_views

from .. import assertions, conf, dpop, grants, keys, registration


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata: DOT's document plus ``jwks_uri``, the auth methods (and assertion algorithms)
    each endpoint takes and, while the device grant is offered, the RFC 8628
    ``device_authorization_endpoint``."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        if registration.is_closed():
            data.pop("registration_endpoint", None)  # nothing a client could do there
        data["grant_types_supported"] = [grant.grant_type for grant in grants.offered()]
        data["jwks_uri"] = conf.get("ISSUER") + "/.well-known/jwks.json"
        # RFC 8414 §2: each endpoint's client authentication methods, and the assertion algorithms
        # (RFC 7523 §2.2, OIDC Core §9) of private_key_jwt.
        methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
        data["token_endpoint_auth_methods_supported"] = [*methods, "none"]
        data["revocation_endpoint_auth_methods_supported"] = [*methods, "none"]
        data["introspection_endpoint_auth_methods_supported"] = methods
        for endpoint in ("token", "revocation", "introspection"):
            data[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] = assertions.ALGORITHMS
        data["authorization_response_iss_parameter_supported"] = True
        data["resource_indicators_supported"] = True
        data["dpop_signing_alg_values_supported"] = dpop.algorithms()  # RFC 9449 §5.1
        if grants.is_offered(grants.DEVICE_CODE):  # RFC 8628 §4
            data["device_authorization_endpoint"] = conf.get("ISSUER") + reverse(
                "oauth2_provider:device-authorization"
            )
        return _public_json(data, max_age=300)


class JwksView(View):
    """The JWK Set of every key that can still verify a live access token."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return _public_json(keys.jwks(), max_age=300)

    head = get  # View.setup would store it on each instance: a cycle left to the garbage collector


def _public_json(data: dict, max_age: int) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["Access-Control-Allow-Origin"] = "*"
    return response
