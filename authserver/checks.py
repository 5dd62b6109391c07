"""System checks for the authorization server's configuration."""

from urllib.parse import urlsplit

from django.core import checks

from . import conf


@checks.register(checks.Tags.security)
def check_issuer_and_resources(app_configs, **kwargs):
    errors = []
    issuer = conf.get("ISSUER")
    parts = urlsplit(issuer)
    if parts.scheme not in {"http", "https"} or not parts.netloc or issuer.endswith("/") or parts.query:
        errors.append(
            checks.Error(
                f"OAUTH_ISSUER {issuer!r} must be an absolute http(s) URL with no trailing slash or query.",
                id="authserver.E001",
            )
        )
    default = conf.get("DEFAULT_RESOURCE")
    if default not in conf.get("ALLOWED_RESOURCES"):
        errors.append(
            checks.Error(f"The default resource {default!r} is not in the allowed resources.", id="authserver.E002")
        )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_public_url_is_https(app_configs, **kwargs):
    if urlsplit(conf.get("ISSUER")).scheme != "https":
        return [
            checks.Warning(
                "The issuer is not an https URL; tokens and credentials would cross the network in clear.",
                hint="Set PUBLIC_URL (or OAUTH_ISSUER) to the https URL clients use.",
                id="authserver.W001",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_registration_policy(app_configs, **kwargs):
    policy = conf.get("DCR_POLICY")
    if policy not in {"open", "token", "closed"}:
        return [
            checks.Error(
                f"DCR_POLICY {policy!r} is not one of open, token, closed; nobody may register until it is.",
                id="authserver.E003",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_cimd_allow_list(app_configs, **kwargs):
    from oauth2_provider.settings import oauth2_settings

    if oauth2_settings.CIMD_ENABLED and not oauth2_settings.CIMD_ALLOWED_HOSTS:
        return [
            checks.Warning(
                "Client ID metadata documents are on but no host is allowed, so no such client can sign in.",
                hint="Set CIMD_ALLOWED_HOSTS (e.g. 'vscode.dev,.example.com', or '*' for any public host).",
                id="authserver.W002",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_demo_credentials(app_configs, **kwargs):
    """Demo accounts and clients whose passwords and secrets are printed in the README."""
    from django.db import DatabaseError

    from . import demo

    try:
        published = demo.published_credentials_in_use()
    except DatabaseError:  # not migrated yet: there is no account to warn about
        return []
    if not published:
        return []
    return [
        checks.Warning(
            f"Demo credentials from the README still work: {', '.join(published)}.",
            hint="Change those passwords and secrets (or delete the accounts and clients) before deploying.",
            id="authserver.W010",
        )
    ]


@checks.register(checks.Tags.security)
def check_grant_types(app_configs, **kwargs):
    """A grant type the table does not know is offered nowhere; say so rather than ignore it quietly."""
    from oauth2_provider.settings import oauth2_settings

    from . import grants

    unknown = [name for name in oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED if grants.get(name) is None]
    if not unknown:
        return []
    return [
        checks.Warning(
            f"OAUTH2_GRANT_TYPES_SUPPORTED lists {', '.join(unknown)}, which authserver.grants does not "
            "know; the token endpoint, metadata and admin leave it out.",
            hint="Add an entry to authserver.grants.GRANTS, or remove it from the setting.",
            id="authserver.W020",
        )
    ]


LONGEST_SENSIBLE_GRACE = 60  # seconds: parallel refreshes arrive within moments of each other


@checks.register(checks.Tags.security)
def check_refresh_grace(app_configs, **kwargs):
    """The refresh grace window is answered by this project's validator (``authserver.rotations``),
    which is why DOT's own check against it (oauth2_provider.E001) is silenced; and it stays short."""
    from oauth2_provider.settings import oauth2_settings

    from .validators import OAuth2Validator

    seconds = oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS
    if seconds <= 0:
        return []
    if not issubclass(oauth2_settings.OAUTH2_VALIDATOR_CLASS, OAuth2Validator):
        return [
            checks.Error(
                "A refresh grace window needs authserver.validators.OAuth2Validator: DOT's own answers a "
                "repeat with the stored token columns, which hashed token storage leaves empty.",
                hint="Set OAUTH2_VALIDATOR_CLASS to it (or a subclass), or OAUTH_REFRESH_GRACE_SECONDS=0.",
                id="authserver.E021",
            )
        ]
    if seconds > LONGEST_SENSIBLE_GRACE:
        return [
            checks.Warning(
                f"OAUTH_REFRESH_GRACE_SECONDS is {seconds}: a rotated refresh token gets the current pair "
                "for that long, stolen or not.",
                hint=f"A few seconds (at most {LONGEST_SENSIBLE_GRACE}) are enough for parallel refreshes.",
                id="authserver.W021",
            )
        ]
    return []
