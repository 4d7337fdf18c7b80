"""The writes of the attribution app: runs and costs (runs.py). Segments, profile facts
and destinations write through attribution/segments/services.py and destinations.py."""

from attribution.errors import UnknownModel
from attribution.services.runs import (
    CostImport,
    goal_by_key,
    import_costs,
    record_cost,
    refresh_attribution,
)

__all__ = [
    "CostImport",
    "UnknownModel",
    "goal_by_key",
    "import_costs",
    "record_cost",
    "refresh_attribution",
]
