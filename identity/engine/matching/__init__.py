"""Probabilistic matching of customer profiles with Splink. Pure: no Django.

Profiles that share no identifier can still be one person: "Jon Smith, 12 High St" and
"Jonathan Smith" with the same postcode and birthday. This engine scores such pairs
with a Fellegi-Sunter model (Splink 5) trained on the platform's own profiles, on
DuckDB in-process by default or on Spark for data beyond one machine.

Records travel as `pyarrow.Table`s with the columns `unique_id` (the profile id) and
`MATCH_COLUMNS`; every function cleans its input with `prepare_records` first, so
callers may hand over raw or already prepared records. A trained model is a plain
JSON-serialisable dict (Splink's own model format), stored by the caller.

The face of the engine, module by module:

- `columns`: what a record holds and what the model compares (`MATCH_COLUMNS`,
  `COMPARED_TRAITS`);
- `cleaning`: `prepare_records`, `without_placeholders`;
- `comparisons`: the comparison levels and blocking rules (`build_settings`,
  `narrowed_rules`: the postcode alone with one more thing to block on);
- `training`: `train_model` (`TooFewDuplicates` when there is nothing to learn from);
- `prediction`: `predict_pairs`, `predict_new_against_existing`, `score_record_pairs`,
  `blocking_rules_for` (the rules a full prediction uses on given records);
- `incremental`: `KeptRecords` (the existing records of incremental runs, cleaned,
  counted and indexed once, kept between runs), `incremental_blocking_rules`;
- `pairs`: `ScoredPair`, `ScoredPairs` (with the comparisons made) and `cluster_pairs`;
- `backends`: DuckDB or Spark (`MatchingBackendUnavailable`).

Every name is importable from this package. The column list, cleaning and pairs load
without Splink; the names of the Splink parts load their module (and Splink, about a
quarter of a second and DuckDB) when first used, so that a page needing only the column
names does not pay for the model.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from identity.engine.matching.cleaning import (
    CANONICAL_FIRST_NAME,
    PLACEHOLDER_MIN_PROFILES,
    STREET_ABBREVIATIONS,
    prepare_records,
    without_placeholders,
)
from identity.engine.matching.columns import COMPARED_TRAITS, DIFFERENT, MATCH_COLUMNS, MISSING
from identity.engine.matching.pairs import ScoredPair, ScoredPairs, cluster_pairs
from identity.engine.names import NICKNAMES

if TYPE_CHECKING:
    from identity.engine.matching.backends import BACKENDS, MatchingBackendUnavailable
    from identity.engine.matching.comparisons import build_settings, narrowed_rules
    from identity.engine.matching.incremental import (
        KeptRecords,
        incremental_blocking_rules,
        model_fingerprint,
    )
    from identity.engine.matching.prediction import (
        blocking_rules_for,
        predict_new_against_existing,
        predict_pairs,
        score_record_pairs,
    )
    from identity.engine.matching.training import (
        DETERMINISTIC_RULES,
        EM_BLOCKING_RULES,
        TooFewDuplicates,
        train_model,
    )

# The names whose module imports Splink, and that module.
_WITH_SPLINK = {
    "BACKENDS": "backends",
    "MatchingBackendUnavailable": "backends",
    "build_settings": "comparisons",
    "narrowed_rules": "comparisons",
    "blocking_rules_for": "prediction",
    "KeptRecords": "incremental",
    "incremental_blocking_rules": "incremental",
    "model_fingerprint": "incremental",
    "DETERMINISTIC_RULES": "training",
    "EM_BLOCKING_RULES": "training",
    "TooFewDuplicates": "training",
    "train_model": "training",
    "predict_pairs": "prediction",
    "predict_new_against_existing": "prediction",
    "score_record_pairs": "prediction",
}

__all__ = [
    "CANONICAL_FIRST_NAME",
    "COMPARED_TRAITS",
    "DIFFERENT",
    "MATCH_COLUMNS",
    "MISSING",
    "NICKNAMES",
    "PLACEHOLDER_MIN_PROFILES",
    "STREET_ABBREVIATIONS",
    "ScoredPair",
    "ScoredPairs",
    "cluster_pairs",
    "prepare_records",
    "without_placeholders",
    # with Splink
    "BACKENDS",
    "DETERMINISTIC_RULES",
    "EM_BLOCKING_RULES",
    "KeptRecords",
    "MatchingBackendUnavailable",
    "TooFewDuplicates",
    "blocking_rules_for",
    "build_settings",
    "incremental_blocking_rules",
    "model_fingerprint",
    "narrowed_rules",
    "predict_new_against_existing",
    "predict_pairs",
    "score_record_pairs",
    "train_model",
]


def __getattr__(name: str) -> Any:
    if name not in _WITH_SPLINK:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WITH_SPLINK[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WITH_SPLINK))
