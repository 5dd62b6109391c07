"""The OpenAPI description (drf-spectacular): the bearer scheme of ``mcpserver.rest`` and the error
answers every operation may give, so that clients and schemathesis know every status they can get."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# DRF's validation errors: a list of messages per field (nested for nested fields), or "detail".
INVALID = {"type": "object", "additionalProperties": True}
CHALLENGE = {
    "WWW-Authenticate": {
        "description": "RFC 6750 bearer challenge (error, error_description, scope, resource_metadata).",
        "schema": {"type": "string"},
    }
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the caller may send requests again.",
        "schema": {"type": "integer"},
    }
}
ANSWERS = {
    "400": ("The request is invalid (a message per field, or detail).", "ValidationError", None),
    "401": ("No token, or an invalid, expired or revoked one.", "Error", CHALLENGE),
    "403": ("The token lacks the scope (insufficient_scope), or the user may not.", "Error", CHALLENGE),
    "404": ("No such object, page or cursor.", "Error", None),
    "429": ("Too many requests by this caller; try again after Retry-After seconds.", "Error", RETRY_AFTER),
}


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "mcpserver.rest.BearerAuthentication"
    name = "bearerAuth"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scheme = build_bearer_security_scheme_object("Authorization", "Bearer", "JWT")
        scheme["description"] = "An RFC 9068 access token of this server with admin:read or admin:write."
        return scheme


def only_the_api(endpoints: list[tuple]) -> list[tuple]:
    """PREPROCESSING_HOOKS entry: the document describes ``/api/v1/`` and nothing else of the project."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


def add_error_answers(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """POSTPROCESSING_HOOKS entry: every operation documents 400, 401 (with its challenge), 403, 404 and
    429 (with Retry-After), and 415 where it takes a body."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationError", INVALID)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            answers = dict(ANSWERS)
            if "requestBody" in operation:
                answers["415"] = ("The body's media type is not accepted.", "Error", None)
            for status, (description, schema, headers) in answers.items():
                answer = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                }
                if headers:
                    answer["headers"] = headers
                responses.setdefault(status, answer)
    return result
