"""Forms for the sign-in page, the consent page, the device pages and the admin's client and client-policy
pages, and the one rule for what username a sign-in names."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UsernameField
from django.core.exceptions import ValidationError
from oauth2_provider.forms import AllowForm, ApplicationForm
from oauth2_provider.views.device import DeviceConfirmForm, DeviceGrantForm

from . import clientkeys, devices, grants
from .models import ClientPolicy


class LoginForm(AuthenticationForm):
    """Django's authentication form with browser hints for password managers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


def clean_username(raw: object) -> str:
    """The username a sign-in names, as the sign-in form hands it to the authentication backend.

    Django's ``UsernameField`` (surrounding whitespace stripped, NFKC: " guest" and a full-width
    "ｇｕｅｓｔ" are "guest"), cut to the field's length as ``AuthenticationForm`` does. Lockouts key on
    it and the password grant authenticates with it, so no spelling escapes a lockout.
    """
    model = get_user_model()
    length = model._meta.get_field(model.USERNAME_FIELD).max_length or 254
    return UsernameField(max_length=length).to_python("" if raw is None else raw)[:length]


class ConsentForm(AllowForm):
    """DOT's consent form, also carrying the RFC 9449 §10 ``dpop_jkt`` from the request to the code."""

    dpop_jkt = forms.CharField(required=False, widget=forms.HiddenInput())


class ClientForm(ApplicationForm):
    """DOT's application form offering only the grants this server offers (never implicit or hybrid).

    A client saved with another grant would fail at its first authorization or token request.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("authorization_grant_type")
        if field is not None:
            supported = grants.application_grants()
            field.choices = [(value, label) for value, label in field.choices if value in supported]
            field.error_messages["invalid_choice"] = (
                f"The %(value)s grant is not supported by this server; choose one of {', '.join(supported)}."
            )


class ClientPolicyForm(forms.ModelForm):
    """A client's policy in the admin: a ``private_key_jwt`` client registers exactly one source of
    public keys (a JWK Set without private key material, or an https ``jwks_uri``); any other, none."""

    jwks_uri = forms.URLField(
        label="JWK Set URL", max_length=500, required=False, assume_scheme="https",
        help_text=ClientPolicy._meta.get_field("jwks_uri").help_text,
    )  # fmt: skip

    class Meta:
        model = ClientPolicy
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without it (a script, an older page) keeps the default: a secret.
        self.fields["token_endpoint_auth_method"].required = False

    def clean_token_endpoint_auth_method(self) -> str:
        return self.cleaned_data.get("token_endpoint_auth_method") or ClientPolicy.SECRET

    def clean(self):
        data = super().clean()
        method = data.get("token_endpoint_auth_method") or ClientPolicy.SECRET
        problem = clientkeys.registration_problem(method, data.get("jwks"), data.get("jwks_uri") or "")
        if problem:
            raise forms.ValidationError(problem)
        return data


class UserCodeForm(DeviceGrantForm):
    """DOT's user-code form, reading the code as RFC 8628 §6.1 asks (case and dashes ignored) and
    answering every code it cannot use alike: nothing tells a guesser that a code exists."""

    user_code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    def clean_user_code(self) -> str:
        device = devices.pending(self.cleaned_data["user_code"])
        if device is None:
            message = "This code is not valid: it may be mistyped, expired or already used."
            raise ValidationError(message, code="invalid_user_code")
        self.cleaned_data["device_grant"] = device  # DOT's DeviceUserCodeView takes it from here
        return device.user_code


class DeviceDecisionForm(DeviceConfirmForm):
    """DOT's approve-or-deny form, refusing anything but its two answers."""

    action = forms.ChoiceField(choices=[("accept", "Allow"), ("deny", "Deny")])
