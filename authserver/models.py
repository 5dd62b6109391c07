"""Identity and policy: users, roles, scopes, client ceilings, consents, registration tokens, signing keys."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings


def https_url(value: str) -> None:
    """An absolute https URL (a function, not a URLValidator: DRF drops those from URL fields)."""
    URLValidator(schemes=["https"], message="Enter an absolute https URL.")(value)


# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
scope_token = RegexValidator(r"^[\x21\x23-\x5B\x5D-\x7E]+$", "A scope is printable ASCII without spaces, quotes or backslashes.")


def absolute_uri(value: str) -> bool:
    """An absolute http(s) URI with a host and no fragment (RFC 8707 §2: what a resource indicator is)."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment and "#" not in value


class ScopeQuerySet(models.QuerySet):
    def names(self) -> set[str]:
        return set(self.values_list("name", flat=True))

    def defaults(self) -> ScopeQuerySet:
        return self.filter(is_default=True)

    def get_by_natural_key(self, name: str) -> Scope:
        return self.get(name=name)


class Scope(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[scope_token])
    description = models.CharField(max_length=255, help_text="Shown to users on the consent page.")
    is_default = models.BooleanField(
        default=True, help_text="Granted when a client asks for no scope (still narrowed by the client and roles)."
    )
    role_only = models.BooleanField(
        "only through a role",
        default=False,
        help_text="Granted only to a user whose roles grant it: never to a client acting for itself "
        "(client credentials), whatever its ceiling.",
    )

    objects = ScopeQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class RoleQuerySet(models.QuerySet):
    def get_by_natural_key(self, name: str) -> Role:
        return self.get(name=name)


class Role(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    scopes = models.ManyToManyField(Scope, blank=True, related_name="roles")

    objects = RoleQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class User(AbstractUser):
    roles = models.ManyToManyField(Role, blank=True, related_name="users")

    def role_names(self) -> list[str]:
        return sorted(self.roles.values_list("name", flat=True))

    def has_role(self, name: str) -> bool:
        """Whether the user holds the role with this name (what a token's ``roles`` claim lists)."""
        return self.roles.filter(name=name).exists()

    def scope_names(self) -> set[str]:
        """Every scope any of the user's roles grants."""
        return set(Scope.objects.filter(roles__users=self).values_list("name", flat=True))


class ClientPolicyQuerySet(models.QuerySet):
    def get_by_natural_key(self, client_id: str) -> ClientPolicy:
        return self.get(application__client_id=client_id)


class ClientPolicy(models.Model):
    """What one OAuth client may ever be granted (its scope ceiling), and how it authenticates."""

    SECRET = "client_secret_basic"
    PRIVATE_KEY_JWT = "private_key_jwt"

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="policy"
    )
    scopes = models.ManyToManyField(
        Scope, blank=True, related_name="clients", help_text="The scope ceiling: nothing outside it is ever granted."
    )
    enabled = models.BooleanField(
        default=True,
        help_text="A disabled client is granted nothing: no new tokens, no refresh, no consent page.",
    )
    may_introspect = models.BooleanField(
        "may introspect tokens",
        default=False,
        help_text="A resource server of ours: it may ask the introspection endpoint about any token.",
    )
    dpop_bound_access_tokens = models.BooleanField(
        "DPoP-bound access tokens only",
        default=False,
        help_text="RFC 9449 §5.2: every token request carries a DPoP proof; tokens are bound to its key.",
    )
    token_endpoint_auth_method = models.CharField(
        "client authentication",
        max_length=20,
        choices=[
            (SECRET, "client secret (HTTP Basic or form body; none for a public client)"),
            (PRIVATE_KEY_JWT, "signed assertion (private_key_jwt, RFC 7523)"),
        ],
        default=SECRET,
        help_text="How the client authenticates at the token, introspection and revocation endpoints: "
        "a client signing assertions cannot use a secret, and a client with a secret cannot sign.",
    )
    jwks = models.JSONField(
        "JWK Set",
        null=True,
        blank=True,
        help_text='private_key_jwt: the public keys the client signs with ({"keys": [...]}); or a jwks_uri.',
    )
    jwks_uri = models.URLField(
        "JWK Set URL",
        max_length=500,
        blank=True,
        help_text="private_key_jwt: an https URL publishing the client's public keys (instead of a JWK Set).",
    )
    refresh_grace_seconds = models.PositiveIntegerField(
        "refresh grace (seconds)",
        null=True,
        blank=True,
        help_text="How long a rotated refresh token presented again gets the same new pair instead of "
        "revoking its family. Empty: the server's window (OAUTH_REFRESH_GRACE_SECONDS); 0: never; "
        "never longer than the server's window.",
    )

    token_exchange_audiences = models.TextField(
        "token exchange audiences",
        blank=True,
        help_text="RFC 8693 token exchange: the absolute URIs (audience or resource) this client may exchange "
        "a user's access token for, one per line. Empty: the client may not exchange tokens. Only a "
        "confidential client (secret or private_key_jwt) can use it.",
    )

    objects = ClientPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = "client policy"
        verbose_name_plural = "client policies"

    def __str__(self) -> str:
        return f"Policy for {self.application}"

    def natural_key(self) -> tuple[str]:
        return (self.application.client_id,)

    @property
    def signs_assertions(self) -> bool:
        return self.token_endpoint_auth_method == self.PRIVATE_KEY_JWT

    @property
    def exchange_audiences(self) -> list[str]:
        """The targets of ``token_exchange_audiences``, in order, repeats dropped."""
        return list(dict.fromkeys(self.token_exchange_audiences.split()))

    def clean(self) -> None:
        bad = next((uri for uri in self.exchange_audiences if not absolute_uri(uri)), None)
        if bad is not None:
            message = f"{bad!r} is not an absolute http(s) URI without a fragment."
            raise ValidationError({"token_exchange_audiences": message})
        server = oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS
        own = self.refresh_grace_seconds
        if own is not None and own > server:
            message = f"At most the server's window, OAUTH_REFRESH_GRACE_SECONDS ({server} s)."
            raise ValidationError({"refresh_grace_seconds": message})

    natural_key.dependencies = [oauth2_settings.APPLICATION_MODEL.lower()]


class RefreshTokenBinding(models.Model):
    """RFC 9449 §5.0: a public client's refresh token works only with a proof of the key it was issued to."""

    refresh_token = models.OneToOneField(
        "oauth2_provider.RefreshToken", on_delete=models.CASCADE, related_name="dpop_binding"
    )
    jkt = models.CharField("key thumbprint (RFC 7638)", max_length=64)

    def __str__(self) -> str:
        return f"DPoP binding of refresh token {self.refresh_token_id}"


class AuthorizationCodeBinding(models.Model):
    """RFC 9449 §10: an authorization code asked for with ``dpop_jkt`` is redeemed only with a proof of
    that key."""

    grant = models.OneToOneField(
        oauth2_settings.GRANT_MODEL, on_delete=models.CASCADE, related_name="dpop_binding"
    )
    jkt = models.CharField("key thumbprint (RFC 7638)", max_length=64)

    def __str__(self) -> str:
        return f"DPoP binding of authorization code {self.grant_id}"


class DeviceAudience(models.Model):
    """The RFC 8707 resources a device authorization (RFC 8628) asked for: DOT's device grant has no
    field for them. Its tokens are for these resources; consent is asked and remembered for them."""

    device_grant = models.OneToOneField(
        oauth2_settings.DEVICE_GRANT_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="audience",
    )
    resource = models.JSONField(default=list)

    def __str__(self) -> str:
        return " ".join(self.resource)


class ConsentQuerySet(models.QuerySet):
    def for_client(self, user, application) -> ConsentQuerySet:
        return self.filter(user=user, application=application)


class Consent(models.Model):
    """A user's remembered approval of scopes for one client and one resource (RFC 8707): asking for a
    subset, for that resource, skips the consent page."""

    user = models.ForeignKey("User", on_delete=models.CASCADE, related_name="consents")
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    resource = models.CharField(max_length=500, help_text="The resource (token audience) the approval is for.")
    scopes = models.ManyToManyField(Scope, blank=True, related_name="consents")
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(default=timezone.now, editable=False)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-updated", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "application", "resource"], name="one_consent_per_user_client_resource"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.application} ({self.resource})"

    def scope_names(self) -> set[str]:
        return set(self.scopes.values_list("name", flat=True))


def token_checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class InitialAccessTokenQuerySet(models.QuerySet):
    def usable(self) -> InitialAccessTokenQuerySet:
        """Not expired and not used up."""
        unexpired = models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        uses_left = models.Q(max_uses__isnull=True) | models.Q(uses__lt=models.F("max_uses"))
        return self.filter(unexpired & uses_left)

    def consume(self, raw: str) -> InitialAccessToken | None:
        """Spend one use of the token with this value, atomically; None when it is unknown or spent."""
        matching = self.usable().filter(token_checksum=token_checksum(raw))
        if not matching.update(uses=models.F("uses") + 1):
            return None
        return self.filter(token_checksum=token_checksum(raw)).first()


class InitialAccessToken(models.Model):
    """An admin-issued bearer token that lets a client register itself (RFC 7591 §3, ``DCR_POLICY=token``).

    Only its SHA-256 checksum is stored; the value is shown once, when it is created.
    """

    description = models.CharField(max_length=200, help_text="Who or what it is for.")
    token_checksum = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey("User", null=True, blank=True, on_delete=models.SET_NULL, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    max_uses = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many clients it may register; empty: no limit."
    )
    uses = models.PositiveIntegerField(
        default=0, editable=False, help_text="Clients registered with it so far."
    )

    objects = InitialAccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.description

    def is_usable(self) -> bool:
        """Whether it may still register a client: what ``InitialAccessTokenQuerySet.usable`` selects."""
        unexpired = self.expires_at is None or self.expires_at > timezone.now()
        return unexpired and (self.max_uses is None or self.uses < self.max_uses)


class SigningKeyQuerySet(models.QuerySet):
    def active(self) -> SigningKeyQuerySet:
        return self.filter(retired_at__isnull=True)

    def current(self) -> SigningKey | None:
        return self.active().order_by("-created", "-id").first()

    def verifying(self) -> SigningKeyQuerySet:
        """Keys that may still have signed a live token: active, or retired (not as compromised) and
        still within the window set when they retired."""
        within = models.Q(compromised_at__isnull=True, verify_until__gt=timezone.now())
        return self.filter(models.Q(retired_at__isnull=True) | within).order_by("-created", "-id")


class SigningKey(models.Model):
    """An RSA key that signs access tokens. The newest active key signs; retired keys keep verifying
    until ``verify_until``, unless they were retired as compromised."""

    kid = models.CharField("key ID", max_length=64, unique=True, help_text="RFC 7638 JWK thumbprint.")
    algorithm = models.CharField(max_length=10, default="RS256", editable=False)
    private_key = models.TextField(editable=False)
    public_jwk = models.JSONField(editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    verify_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="A retired key verifies until then: its last token's expiry.",
    )
    compromised_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Retired as compromised: out of the JWKS, verifies nothing.",
    )

    objects = SigningKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.kid


def access_tokens(tokens: models.QuerySet | None = None) -> models.QuerySet:
    """DOT's access-token rows (or those of ``tokens``) that are access tokens: not its RFC 7592
    registration access tokens.

    DOT stores those as access-token rows too (scope ``DCR_REGISTRATION_SCOPE``, valid until the year
    9999); they only manage their own client's registration and are nobody's bearer token.
    """
    from oauth2_provider.models import get_access_token_model

    tokens = get_access_token_model().objects.all() if tokens is None else tokens
    return tokens.exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)


class IdentityProvider(models.Model):
    """An enterprise identity provider whose identity assertion grants (ID-JAG) this server accepts.

    Its ``issuer`` is the ``iss`` of the assertions it signs with the keys at ``jwks_uri``. The user an
    assertion names is found by ``subject_mapping``: a ``FederatedIdentity`` link for its ``sub``, or a
    local user with the same (verified) ``email``; an unknown subject gets a new user only when
    ``create_users`` is on (with ``new_user_roles``).
    """

    BY_SUBJECT = "sub"
    BY_EMAIL = "email"

    name = models.CharField(max_length=100, unique=True)
    issuer = models.CharField(
        max_length=500,
        unique=True,
        validators=[https_url],
        help_text="The iss of its assertions, byte for byte (an https URL).",
    )
    jwks_uri = models.URLField(
        "JWK Set URL",
        max_length=500,
        validators=[https_url],
        help_text="An https URL publishing the keys it signs assertions with.",
    )
    clients = models.ManyToManyField(
        oauth2_settings.APPLICATION_MODEL,
        related_name="identity_providers",
        help_text="The clients that may exchange its assertions for tokens (an assertion's client_id "
        "must be one of them).",
    )
    subject_mapping = models.CharField(
        max_length=10,
        choices=[
            (BY_SUBJECT, "linked subject (sub): a federated identity links it to a user"),
            (BY_EMAIL, "verified email: the user with the assertion's email (when email_verified)"),
        ],
        default=BY_SUBJECT,
    )
    create_users = models.BooleanField(
        "create users on first use",
        default=False,
        help_text="An assertion naming nobody known creates a user (and its link); off: invalid_grant.",
    )
    new_user_roles = models.ManyToManyField(
        Role,
        blank=True,
        related_name="+",
        help_text="The roles a user created on first use starts with (their scopes: what it may get).",
    )
    enabled = models.BooleanField(default=True, help_text="A disabled provider's assertions are refused.")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FederatedIdentity(models.Model):
    """A provider's subject (``sub``) linked to a local user: who that provider's assertions are about."""

    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="identities")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey("User", on_delete=models.CASCADE, related_name="federated_identities")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "federated identities"
        ordering = ["provider", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="one_user_per_provider_subject")
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.subject} → {self.user}"
