"""Identity and policy: users, roles, scopes, each client's scope ceiling, and signing keys."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
scope_token = RegexValidator(r"^[\x21\x23-\x5B\x5D-\x7E]+$", "A scope is printable ASCII without spaces, quotes or backslashes.")


class ScopeQuerySet(models.QuerySet):
    def names(self) -> set[str]:
        return set(self.values_list("name", flat=True))

    def defaults(self) -> ScopeQuerySet:
        return self.filter(is_default=True)


class Scope(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[scope_token])
    description = models.CharField(max_length=255, help_text="Shown to users on the consent page.")
    is_default = models.BooleanField(
        default=True, help_text="Granted when a client asks for no scope (still narrowed by the client and roles)."
    )

    objects = ScopeQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    scopes = models.ManyToManyField(Scope, blank=True, related_name="roles")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    roles = models.ManyToManyField(Role, blank=True, related_name="users")

    def role_names(self) -> list[str]:
        return sorted(self.roles.values_list("name", flat=True))

    def scope_names(self) -> set[str]:
        """Every scope any of the user's roles grants."""
        return set(Scope.objects.filter(roles__users=self).values_list("name", flat=True))


class ClientPolicy(models.Model):
    """What one OAuth client may ever be granted: its scope ceiling."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="policy"
    )
    scopes = models.ManyToManyField(
        Scope, blank=True, related_name="clients", help_text="The scope ceiling: nothing outside it is ever granted."
    )

    class Meta:
        verbose_name = "client policy"
        verbose_name_plural = "client policies"

    def __str__(self) -> str:
        return f"Policy for {self.application}"


class SigningKeyQuerySet(models.QuerySet):
    def active(self) -> SigningKeyQuerySet:
        return self.filter(retired_at__isnull=True)

    def current(self) -> SigningKey | None:
        return self.active().order_by("-created", "-id").first()

    def verifying(self, max_token_lifetime: int) -> SigningKeyQuerySet:
        """Keys that may still have signed a live token: active, or retired within one lifetime."""
        horizon = timezone.now() - timedelta(seconds=max_token_lifetime)
        return self.filter(models.Q(retired_at__isnull=True) | models.Q(retired_at__gt=horizon)).order_by(
            "-created", "-id"
        )


class SigningKey(models.Model):
    """An RSA key that signs access tokens. The newest active key signs; retired keys keep verifying."""

    kid = models.CharField("key ID", max_length=64, unique=True, help_text="RFC 7638 JWK thumbprint.")
    algorithm = models.CharField(max_length=10, default="RS256", editable=False)
    private_key = models.TextField(editable=False)
    public_jwk = models.JSONField(editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = SigningKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.kid
