"""Serializers of the management API, one module per area; none exposes a secret, a token value or a
password hash."""
