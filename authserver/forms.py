"""Forms for the sign-in page, and the one rule for what username a sign-in names."""

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UsernameField


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
