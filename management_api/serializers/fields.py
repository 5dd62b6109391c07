"""Fields shared by the serializers: lists that the models keep as space-separated text."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

no_whitespace = RegexValidator(r"^\S+$", "An item may not be empty or contain whitespace.")


class ByName(serializers.SlugRelatedField):
    """An object (role, scope) named by its ``name``. A name no database column can hold (a NUL
    character) is refused before it is looked up: PostgreSQL would fail the query."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="name", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class SpaceSeparated(serializers.ListField):
    """A list of strings in JSON, one space-separated string in the model (scopes, roles, URIs)."""

    def __init__(self, joined_max_length: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(max_length=500, validators=[no_whitespace]))
        super().__init__(**kwargs)
        self.joined_max_length = joined_max_length

    def to_representation(self, data: str) -> list[str]:
        return data.split()

    def to_internal_value(self, data: Any) -> str:
        joined = " ".join(dict.fromkeys(super().to_internal_value(data)))
        if self.joined_max_length is not None and len(joined) > self.joined_max_length:
            raise serializers.ValidationError(f"Together at most {self.joined_max_length} characters.")
        return joined
