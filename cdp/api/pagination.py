from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination


class IdCursorPagination(CursorPagination):
    """Stable pages over growing tables: a cursor on the primary key, no OFFSET scans.

    A `page_size` that is not a whole number from 1 to `max_page_size`, or a `cursor`
    that is not one of our `next`/`previous` links, is refused with 400 naming it
    (DRF would fall back to the default size, and answer 404 to a bad cursor)."""

    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request: Any) -> int | None:
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= self.max_page_size:
            raise serializers.ValidationError(
                {self.page_size_query_param: f"a whole number from 1 to {self.max_page_size}"}
            )
        return int(given)

    def decode_cursor(self, request: Any) -> Cursor | None:
        refused = serializers.ValidationError(
            {self.cursor_query_param: "not a cursor of this list (use its next or previous link)"}
        )
        try:
            cursor = super().decode_cursor(request)
        except (NotFound, UnicodeEncodeError):
            raise refused from None
        # The position is an id (the ordering); anything else would reach the query.
        position = None if cursor is None else cursor.position
        if position is not None and not (str(position).isascii() and str(position).isdigit()):
            raise refused
        return cursor

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters
