"""Forms for the sign-in page and the admin's client page, and the one rule for what username a
sign-in names."""

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UsernameField
from oauth2_provider.forms import ApplicationForm
from oauth2_provider.settings import oauth2_settings

# The token endpoint's grant_type values and the application grant each one needs.
APPLICATION_GRANTS = {
    "authorization_code": "authorization-code",
    "client_credentials": "client-credentials",
    "password": "password",
}


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


def supported_application_grants() -> list[str]:
    """The application grant types the token endpoint serves (``OAUTH2_GRANT_TYPES_SUPPORTED``)."""
    served = oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED
    return [grant for grant_type, grant in APPLICATION_GRANTS.items() if grant_type in served]


class ClientForm(ApplicationForm):
    """DOT's application form offering only the grants this server serves (no implicit, hybrid or device).

    A client saved with another grant would fail at its first authorization or token request.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("authorization_grant_type")
        if field is not None:
            supported = supported_application_grants()
            field.choices = [(value, label) for value, label in field.choices if value in supported]
            field.error_messages["invalid_choice"] = (
                f"The %(value)s grant is not supported by this server; choose one of {', '.join(supported)}."
            )
