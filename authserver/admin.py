"""Admin for users, roles, scopes, clients and their ceilings, consents, registration tokens, signing keys,
and the identity providers whose assertions (ID-JAG) are exchanged for tokens, with their linked subjects.

Actions call module functions.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from oauth2_provider.admin import AccessTokenAdmin as DOTAccessTokenAdmin
from oauth2_provider.admin import ApplicationAdmin as DOTApplicationAdmin
from oauth2_provider.models import revoke_access_token

from . import clients, consents, keys, registration
from .forms import ClientForm, ClientPolicyForm
from .models import (
    ClientPolicy,
    Consent,
    FederatedIdentity,
    IdentityProvider,
    InitialAccessToken,
    Role,
    Scope,
    SigningKey,
    User,
    access_tokens,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Roles", {"fields": ("roles",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Roles", {"fields": ("roles",)}))
    filter_horizontal = (*DjangoUserAdmin.filter_horizontal, "roles")
    list_display = ("username", "email", "is_active", "is_staff", "role_list")
    list_filter = (*DjangoUserAdmin.list_filter, "roles")

    @admin.display(description="roles")
    def role_list(self, obj: User) -> str:
        return ", ".join(role.name for role in obj.roles.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("roles")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "scope_list")
    search_fields = ("name",)
    filter_horizontal = ("scopes",)

    @admin.display(description="scopes")
    def scope_list(self, obj: Role) -> str:
        return " ".join(scope.name for scope in obj.scopes.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scopes")


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "is_default", "role_only")
    list_editable = ("is_default", "role_only")
    search_fields = ("name", "description")


class ClientPolicyInline(admin.StackedInline):
    model = ClientPolicy
    form = ClientPolicyForm
    can_delete = False
    filter_horizontal = ("scopes",)
    verbose_name = "scope ceiling and client authentication"
    verbose_name_plural = "scope ceiling and client authentication"


class ApplicationAdmin(DOTApplicationAdmin):
    """DOT's application admin (DOT's APPLICATION_ADMIN_CLASS hook) with the scope ceiling inline.

    Self-registered clients (DCR, CIMD) are marked and filterable; an admin restricts one by
    editing its ceiling, disables it with the action below, or deletes it.
    """

    form = ClientForm
    # OIDC is off here (access tokens are JWTs of their own; no ID tokens, no RP-initiated logout).
    exclude = ("algorithm", "post_logout_redirect_uris")
    inlines = [ClientPolicyInline]
    list_display = ("name", "client_id", "registration_source", "enabled", "ceiling", "client_type")
    list_filter = (
        "registration_source", "policy__enabled", "policy__may_introspect", "client_type", "authorization_grant_type"
    )
    search_fields = ("name", "client_id")
    actions = ["disable", "enable"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("policy").prefetch_related("policy__scopes")

    @admin.display(description="enabled", boolean=True)
    def enabled(self, obj) -> bool:
        policy = getattr(obj, "policy", None)
        return policy is None or policy.enabled

    @admin.display(description="scope ceiling")
    def ceiling(self, obj) -> str:
        policy = getattr(obj, "policy", None)
        names = " ".join(scope.name for scope in policy.scopes.all()) if policy else ""
        return names or "— none: grants nothing"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not ClientPolicy.objects.filter(application=form.instance, scopes__isnull=False).exists():
            message = "This client has no scope in its ceiling, so no token can be issued to it until you add one."
            self.message_user(request, message, messages.WARNING)

    @admin.action(description="Disable selected clients and revoke their tokens")
    def disable(self, request, queryset):
        revoked = clients.set_enabled(queryset, False)
        message = f"{queryset.count()} client(s) disabled; {revoked} token(s) revoked."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Enable selected clients")
    def enable(self, request, queryset):
        clients.set_enabled(queryset, True)
        self.message_user(request, f"{queryset.count()} client(s) enabled.", messages.SUCCESS)


class FederatedIdentityInline(admin.TabularInline):
    model = FederatedIdentity
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("created",)


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    """Trusted identity providers: their assertions, for the clients listed, become tokens for their users."""

    list_display = ("name", "issuer", "subject_mapping", "create_users", "enabled")
    list_filter = ("enabled", "subject_mapping")
    search_fields = ("name", "issuer")
    filter_horizontal = ("clients", "new_user_roles")
    readonly_fields = ("created",)
    inlines = [FederatedIdentityInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(FederatedIdentity)
class FederatedIdentityAdmin(admin.ModelAdmin):
    """Which local user a provider's subject (sub) is: linked by an admin, or on first use."""

    list_display = ("provider", "subject", "user", "created")
    list_select_related = ("provider", "user")
    list_filter = ("provider",)
    search_fields = ("subject", "user__username", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("created",)


@admin.register(InitialAccessToken)
class InitialAccessTokenAdmin(admin.ModelAdmin):
    """Tokens that let clients register under ``DCR_POLICY=token``; the value is shown once, on creation."""

    list_display = ("description", "created", "created_by", "expires_at", "max_uses", "uses")
    readonly_fields = ("created", "created_by", "uses")

    def get_fields(self, request, obj=None):
        return ("description", "expires_at", "max_uses") + (self.readonly_fields if obj else ())

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            raw = registration.new_token_value(obj)
            self.message_user(
                request,
                f"Initial access token (shown only now; send it as 'Authorization: Bearer …' to the "
                f"registration endpoint): {raw}",
                messages.WARNING,
            )
        super().save_model(request, obj, form, change)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    """Remembered consents; users withdraw their own on the account page."""

    list_display = ("user", "application", "resource", "scope_list", "updated")
    list_select_related = ("user", "application")
    list_filter = ("application",)
    search_fields = ("user__username", "application__name", "application__client_id")
    readonly_fields = ("user", "application", "resource", "scopes", "created", "updated")
    actions = ["withdraw"]

    @admin.action(description="Withdraw selected consents and revoke those tokens")
    def withdraw(self, request, queryset):
        revoked = sum(consents.withdraw(consent) for consent in queryset)
        self.message_user(request, f"Consents withdrawn; {revoked} token(s) revoked.", messages.SUCCESS)

    @admin.display(description="scopes")
    def scope_list(self, obj: Consent) -> str:
        return " ".join(scope.name for scope in obj.scopes.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scopes")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "algorithm", "created", "retired_at", "verify_until", "status")
    readonly_fields = (
        "kid", "algorithm", "public_jwk", "created", "retired_at", "verify_until", "compromised_at"
    )
    fields = readonly_fields
    actions = ["rotate", "retire_compromised"]

    @admin.display(description="status")
    def status(self, obj: SigningKey) -> str:
        if obj.compromised_at:
            return "withdrawn (compromised)"
        return "retired" if obj.retired_at else "active"

    @admin.action(description="Rotate: make a new signing key current")
    def rotate(self, request, queryset):
        key = keys.rotate()
        self.message_user(request, f"New signing key {key.kid} is current; older keys keep verifying.", messages.SUCCESS)

    @admin.action(description="Retire now (compromised): withdraw selected keys and refuse their tokens")
    def retire_compromised(self, request, queryset):
        try:
            withdrawn = keys.retire_compromised(queryset)
        except keys.RetirementRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            f"{withdrawn} key(s) withdrawn: out of the JWKS, their tokens are refused on the next request.",
            messages.SUCCESS,
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """A key that may still verify a live token stays: deleting it would break those tokens."""
        if obj is not None and SigningKey.objects.verifying().filter(pk=obj.pk).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would not ask has_delete_permission per key
        return actions


class AccessTokenAdmin(DOTAccessTokenAdmin):
    """DOT's access-token admin (its ACCESS_TOKEN_ADMIN_CLASS hook), read-only with a Revoke button.

    A signed JWT does not change when its row does, so nothing is editable; revoking (the button,
    or the bulk action) deletes the row, which puts the token on the deny-list every instance reads.
    There is no token column: tokens are stored hashed, so it would always be empty. DOT's registration
    access tokens (RFC 7592) are rows of the same table but nobody's bearer token: they are left out.
    """

    list_display = ("pk", "user", "application", "scope", "expires")
    change_form_template = "admin/authserver/accesstoken_change_form.html"
    actions = ["revoke_tokens"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_revoke_permission(self, request) -> bool:
        """Revoking needs the model's change permission (the pages themselves are read-only)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_revoke_permission(request):
            actions.pop("revoke_tokens", None)
        return actions

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_revoke"
        view = self.admin_site.admin_view(require_POST(self.revoke_view))
        return [path("<path:object_id>/revoke/", view, name=name), *super().get_urls()]

    def revoke_view(self, request, object_id):
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        token = get_object_or_404(self.get_queryset(request), pk=object_id)
        revoke_access_token(token)  # its refresh token too, as DOT's revoke action does
        self.message_user(request, f"Access token {object_id} revoked.", messages.SUCCESS)
        return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))

    def render_change_form(self, request, context, *args, **kwargs):
        context["may_revoke"] = self.has_revoke_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)

    def get_queryset(self, request):
        return access_tokens(super().get_queryset(request))
