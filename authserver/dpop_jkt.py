"""RFC 9449 §10: the ``dpop_jkt`` authorization request parameter, binding an authorization code to the
DPoP key the client will prove possession of when it redeems the code.

``check_authorization_request`` is a ``post_auth`` validator of the code grant (``authserver.server``):
it refuses a malformed thumbprint with ``invalid_request`` (sent to the client's redirect URI, RFC 6749
§4.1.2.1) and hands a good one on in the request's credentials, which the consent page keeps in a
hidden field. ``bind_code`` stores it beside the code (the validator's code hook); the token endpoint
(``authserver.dpop.check_token_request``) then accepts the code only with a proof of that key.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth2.rfc6749.errors import InvalidRequestError

from .models import AuthorizationCodeBinding

PARAMETER = "dpop_jkt"

# A SHA-256 digest (32 bytes) in base64url without padding is 43 characters, the last one of a subset.
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")


def well_formed(value: str) -> bool:
    """Whether ``value`` is a base64url (unpadded) SHA-256 JWK thumbprint (RFC 7638 §3), in the one
    spelling of its digest (the last character's two spare bits zero)."""
    if not _THUMBPRINT.fullmatch(value):
        return False
    digest = base64.urlsafe_b64decode(value + "=")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == value


def _requested(request) -> list[str]:
    query = parse_qsl(urlsplit(request.uri or "").query, keep_blank_values=True)
    values = [value for key, value in query if key == PARAMETER]
    carried = getattr(request, PARAMETER, None)  # the consent form's hidden field, via the credentials
    if carried:
        values.append(carried)
    return values


def check_authorization_request(request) -> dict:
    """post_auth validator: at most one well-formed ``dpop_jkt``; it rides on in the credentials."""
    values = list(dict.fromkeys(_requested(request)))
    if not values:
        return {}
    if len(values) > 1:
        raise InvalidRequestError(description="Send dpop_jkt at most once.", request=request)
    if not well_formed(values[0]):
        description = "dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (RFC 7638)."
        raise InvalidRequestError(description=description, request=request)
    return {PARAMETER: values[0]}


def bind_code(grant, request) -> None:
    """Store the code's ``dpop_jkt`` (if its authorization request named one) beside the stored code."""
    jkt = getattr(request, PARAMETER, None)
    if jkt:
        AuthorizationCodeBinding.objects.create(grant=grant, jkt=jkt)


def bound_to_code(code: str) -> str | None:
    """The thumbprint an authorization code is bound to, or None."""
    return AuthorizationCodeBinding.objects.filter(grant__code=code).values_list("jkt", flat=True).first()
