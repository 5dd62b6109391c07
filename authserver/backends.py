"""DOT's OAUTH2_BACKEND_CLASS: its oauthlib bridge, keeping every ``audience`` of a form body.

DOT hands oauthlib the last value of each repeated form parameter, except ``resource`` (RFC 8707).
RFC 8693 §2.1 lets a token exchange repeat ``audience`` too; the earlier values are added here, so
``authserver.exchange`` sees them all. Every other parameter keeps DOT's last-value rule.
"""

from __future__ import annotations

from oauth2_provider.oauth2_backends import OAuthLibCore as DOTOAuthLibCore

REPEATABLE = ("audience",)  # besides DOT's own ``resource``


class OAuthLibCore(DOTOAuthLibCore):
    def extract_body(self, request):
        """DOT's body, plus the values of a repeated ``audience`` that DOT drops (all but the last)."""
        body = list(super().extract_body(request))
        earlier = [(name, value) for name in REPEATABLE for value in request.POST.getlist(name)[:-1]]
        return earlier + body
