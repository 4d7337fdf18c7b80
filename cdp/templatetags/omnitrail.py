"""The number and colour filters of every page: `{% load omnitrail %}` then
`{{ value|money }}`, `{{ value|money:"EUR" }}`, `|cost`, `|count`, `|credit`, `|ratio`,
`|rate`, `|duration` (seconds), `|duration_days`, `|table_cell:column` and
`|channel_colour`. What each writes is in cdp/formatting.py."""

from django import template

from cdp import formatting

register = template.Library()

for _name in ("money", "cost"):
    register.filter(_name, getattr(formatting, _name))
for _name in ("count", "credit", "ratio", "rate", "duration", "duration_days"):
    register.filter(_name, getattr(formatting, _name))
register.filter("table_cell", formatting.table_cell)
register.filter("channel_colour", formatting.channel_colour)


@register.filter
def formatted_row(row, table):
    """(raw, shown, numeric) per cell of a report table's row: numeric columns written
    for their column (amounts in their own currency), the raw value kept for sorting."""
    positions = table.numeric_positions
    return [
        (
            cell,
            _shown(cell, table.columns[i], table) if i in positions else cell,
            i in positions,
        )
        for i, cell in enumerate(row)
    ]


def _shown(cell, column: str, table):
    currency = getattr(cell, "currency", None)  # an amount in its own currency
    if currency:
        return formatting.money(str(cell), currency)
    return formatting.table_cell(cell, column, table.currency)
