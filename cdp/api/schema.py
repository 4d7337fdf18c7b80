"""The OpenAPI schema of the native API (`/api/schema/`) says every answer an operation
gives, errors included, and the API refuses what the schema does not name.

Errors are documented once here rather than on each view: every operation may answer
400 (a bad parameter or body, named in `field`), 401 (no or a bad token) and 403 (a
permission the token's user lacks); one with an id in its path may answer 404. 409 is
declared where it happens (`conflict_responses` below). All share the body of
`cdp.api.errors`: `{"code", "message", "field", "errors"}`.

`reject_unknown_parameters` answers 400 to a query parameter the schema does not name
for that operation (`?profle=7` would otherwise list everything), so what the schema
says and what the API does cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.validators import UniqueValidator


class ErrorSerializer(serializers.Serializer):
    """The body of every refusal of the native API."""

    code = serializers.CharField(help_text="Stable, for programs: invalid_field, not_found, ...")
    message = serializers.CharField(help_text="In words, naming the field first.")
    field = serializers.CharField(
        required=False, help_text="The input at fault: `goal`, `[1].cost`, `page_size`."
    )

    # `errors` is declared here: as a class attribute it would stand where a
    # Serializer keeps its own `errors`.
    def get_fields(self) -> dict[str, serializers.Field]:
        errors = serializers.JSONField(
            required=False, help_text="Every field's errors, when the body was checked whole."
        )
        return {**super().get_fields(), "errors": errors}


ERROR_DESCRIPTIONS = {
    "400": "A parameter or the body is not valid; `field` names it.",
    "401": "No token, or a token that is not (or no longer) valid.",
    "403": "The token's user lacks the permission this needs.",
    "404": "Nothing with this id.",
    "409": "The request conflicts with the current state of what it names.",
}


def error_response(status: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])


def conflict_responses(**success: Any) -> dict[Any, Any]:
    """`responses=` for an operation that can also answer 409, with its success codes
    (`conflict_responses(ok=Serializer)` for 200, `created=` for 201)."""
    codes = {"ok": 200, "created": 201, "accepted": 202}
    return {codes[name]: value for name, value in success.items()} | {409: error_response("409")}


class OmnitrailAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        statuses = ["400", "401", "403"]
        if "{" in self.path:
            statuses.append("404")
        if self.method in ("POST", "PUT", "PATCH") and self._has_unique_fields():
            statuses.append("409")
        for status in statuses:
            if status not in responses:
                responses[status] = self._get_response_for_code(
                    error_response(status), status, direction=direction
                )
        return responses

    def _has_unique_fields(self) -> bool:
        """A name another row may hold already: `cdp.api.errors` answers 409."""
        serializer = force_instance(self.get_request_serializer())
        if not isinstance(serializer, serializers.Serializer):
            return False
        fields = serializer.fields
        return any(
            isinstance(validator, UniqueValidator)
            for field in fields.values()
            for validator in field.validators
        )


@cache
def _query_parameters() -> list[tuple[re.Pattern[str], int, dict[str, frozenset[str]]]]:
    """Per schema path (as a pattern, with how many path parameters it has): the query
    parameters each method takes. Built once per process from the schema (~0.7 s)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = []
    for template, operations in schema["paths"].items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template.rstrip("/")))
        methods = {
            method.upper(): frozenset(
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "query"
            )
            for method, operation in operations.items()
        }
        routes.append((re.compile(f"{pattern}/?"), template.count("{"), methods))
    # A literal path (/segments/templates/) before the one with an id in its place.
    return sorted(routes, key=lambda route: route[1])


def _known_parameters(path: str, method: str) -> frozenset[str] | None:
    for pattern, _, methods in _query_parameters():
        if pattern.fullmatch(path):
            return methods.get("GET" if method == "HEAD" else method)
    return None


def reject_unknown_parameters(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: 400 naming the first query parameter of a native API request that
    the schema does not name for its operation."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/v1/") and request.GET:
            known = _known_parameters(request.path, request.method or "GET")
            if known is not None:
                unknown = [name for name in request.GET if name not in known]
                if unknown:
                    takes = ", ".join(sorted(known)) or "none"
                    return JsonResponse(
                        {
                            "code": "unknown_parameter",
                            "field": unknown[0],
                            "message": f"{unknown[0]}: not a parameter of this endpoint "
                            f"(it takes: {takes})",
                        },
                        status=400,
                    )
        return get_response(request)

    return middleware
