"""Query parameters of the native API read the one way the schema documents them."""

from rest_framework import serializers
from rest_framework.request import Request

TRUE = ("true", "1")
FALSE = ("false", "0")


def query_flag(request: Request, name: str) -> bool:
    """`?name=true|false` (or 1/0); absent: false. Anything else is a 400 naming it,
    not a silent false."""
    values = request.query_params.getlist(name)
    if not values:
        return False
    if len(values) > 1 or values[0].lower() not in TRUE + FALSE:
        raise serializers.ValidationError({name: "true or false"})
    return values[0].lower() in TRUE
