"""Every attribution model by the name the API, exports and reports use, the label the
pages show for it, and the defaults every entry point (API, pages, commands) starts from."""

from collections.abc import Sequence

from attribution.engine.heuristics import MODELS as HEURISTIC_MODELS
from attribution.engine.markov import markov_journey_shares, markov_shares
from attribution.engine.shapley import shapley_shares

MODELS = {
    **HEURISTIC_MODELS,
    # Removal effects, order 1 (markov_shares(..., order=2|3)): the standard allocation
    # (N x RE_c / sum RE), and each journey split over the channels it touched.
    "markov": markov_shares,
    "markov_journey": markov_journey_shares,
    "shapley": shapley_shares,
}

# The names the pages, tables and CSV headings show.
MODEL_LABELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "last_non_direct": "Last non-direct touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position_based": "Position-based (U-shaped)",
    "markov": "Markov chain (data-driven)",
    "markov_journey": "Markov chain, split per journey",
    "shapley": "Shapley value (data-driven)",
}

# The goal every install starts with (attribution/defaults.py creates it).
DEFAULT_GOAL = "purchase"
# The model a report shows when none is asked for: the API's and the pages' alike.
DEFAULT_MODEL = "linear"
# Budget advice moves each channel's share by at most this much (0.06: six points).
DEFAULT_GUARDRAIL = 0.06


def pick(asked: str, offered: Sequence[str], default: str) -> str | None:
    """What a filter (a goal, a model) stands at: `asked` when it is offered, else
    `default` when that is, else the first offered; None when nothing is."""
    if asked in offered:
        return asked
    if default in offered:
        return default
    return offered[0] if offered else None


def model_label(name: str) -> str:
    """The page label of a model; an unknown name is shown as written, capitalised."""
    return MODEL_LABELS.get(name) or name.replace("_", " ").capitalize()
