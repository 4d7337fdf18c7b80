"""Every attribution model by the name the API, exports and reports use."""

from attribution.engine.heuristics import MODELS as HEURISTIC_MODELS
from attribution.engine.markov import markov_shares
from attribution.engine.shapley import shapley_shares

MODELS = {
    **HEURISTIC_MODELS,
    "markov": markov_shares,  # removal effect, order 1 (markov_shares(..., order=2|3))
    "shapley": shapley_shares,
}
