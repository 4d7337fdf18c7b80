"""Scoring pairs of profiles with a trained model."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from splink import Linker
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.internals.splink_dataframe import SplinkDataFrame

from identity.engine.matching.backends import check_model, database, register
from identity.engine.matching.cleaning import prepare_records, without_placeholders
from identity.engine.matching.columns import MISSING
from identity.engine.matching.comparisons import (
    POSTCODE_ALONE,
    POSTCODE_ALONE_BUDGET,
    model_rules,
    narrowed_rules,
    prediction_blocking_rules,
)
from identity.engine.matching.pairs import ScoredPair, ScoredPairs


def _level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Comparison -> gamma value -> level label, numbered the way Splink numbers them:
    the null level is -1, the others count down to 0 in the order given."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        value = sum(1 for level in levels if not level.get("is_null_level")) - 1
        by_value: dict[int, str] = {}
        for level in levels:
            if level.get("is_null_level"):
                by_value[-1] = level.get("label_for_charts", MISSING)
            else:
                by_value[value] = level.get("label_for_charts", str(value))
                value -= 1
        labels[comparison["output_column_name"]] = by_value
    return labels


def _prediction_columns(model: dict[str, Any]) -> list[str]:
    """The columns of Splink's predictions that `_pairs_from_table` reads."""
    columns = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    return columns + [f"gamma_{name}" for name in _level_labels(model)]


def _scored_pairs(predictions: SplinkDataFrame, model: dict[str, Any]) -> list[ScoredPair]:
    select = f"SELECT {', '.join(_prediction_columns(model))} FROM {{this}}"
    return _pairs_from_table(predictions.query_sql(select).as_pyarrow_table(), model)


def _pairs_from_table(result: pa.Table, model: dict[str, Any]) -> list[ScoredPair]:
    """Scored pairs from Splink's predictions (the `_prediction_columns`), sorted by ids."""
    labels = _level_labels(model)
    gammas = {name: result[f"gamma_{name}"].to_pylist() for name in labels}
    lefts = result["unique_id_l"].to_pylist()
    rights = result["unique_id_r"].to_pylist()
    probabilities = result["match_probability"].to_pylist()
    weights = result["match_weight"].to_pylist()
    pairs = [
        ScoredPair(
            left_id=int(lefts[row]),
            right_id=int(rights[row]),
            match_probability=float(probabilities[row]),
            match_weight=float(weights[row]),
            levels={name: labels[name][gammas[name][row]] for name in labels},
        )
        for row in range(result.num_rows)
    ]
    pairs.sort(key=lambda pair: (pair.left_id, pair.right_id))
    return pairs


def predict_pairs(
    table: pa.Table,
    model: dict[str, Any],
    *,
    threshold: float,
    backend: str = "duckdb",
    memory_limit: str | None = None,
) -> ScoredPairs:
    """Every pair of profiles within `table` the blocking rules bring together that
    scores at least `threshold`, lower id on the left, sorted by ids."""
    check_model(model, backend)
    records = without_placeholders(prepare_records(table))
    rules = blocking_rules_for(records, model)
    splink_model = _splink_model(model)
    if rules != model_rules(model):
        dialect = splink_model.get("sql_dialect", backend)
        splink_model["blocking_rules_to_generate_predictions"] = [
            {"blocking_rule": rule, "sql_dialect": dialect} for rule in rules
        ]
    with database(backend, memory_limit) as db_api:
        profiles = register(db_api, records, "profiles")
        linker = Linker(profiles, splink_model, log_level=None)
        predictions = linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        pairs = ScoredPairs(_scored_pairs(predictions, model))
        pairs.comparisons = _count_comparisons([profiles], link_type="dedupe_only", rules=rules)
        pairs.blocking_rules = tuple(rules)
        return pairs


def postcode_pairs(records: pa.Table) -> int:
    """How many pairs of `records` share a postcode (what the postcode alone compares)."""
    postcodes = pc.drop_null(records["postal_code"])
    postcodes = postcodes.filter(pc.not_equal(postcodes, ""))
    counts = pc.value_counts(postcodes).field("counts").to_numpy().astype("int64")
    return int((counts * (counts - 1) // 2).sum())


def blocking_rules_for(records: pa.Table, model: dict[str, Any]) -> list[str]:
    """The model's blocking rules for a full prediction over `records`: as trained,
    unless the postcode alone would compare more than POSTCODE_ALONE_BUDGET pairs a
    record, when it is narrowed (comparisons.narrowed_rules)."""
    rules = model_rules(model)
    if POSTCODE_ALONE in rules and postcode_pairs(records) > (
        POSTCODE_ALONE_BUDGET * records.num_rows
    ):
        return narrowed_rules(rules)
    return rules


def _count_comparisons(
    frames: list[SplinkDataFrame], *, link_type: str, rules: list[str] | None = None
) -> int:
    counted = count_comparisons_from_blocking_rules(
        frames if len(frames) > 1 else frames[0],
        blocking_rules=rules if rules is not None else prediction_blocking_rules(),
        link_type=link_type,  # type: ignore[arg-type]
        record_sample_proportion=1.0,
    )
    return int(counted[-1]["cumulative_comparison_count"]) if counted else 0


def _splink_model(model: dict[str, Any]) -> dict[str, Any]:
    """The model as Splink reads it: without the notes of how it was trained."""
    return {key: value for key, value in model.items() if key != "omnitrail_training"}


def predict_new_against_existing(
    existing: pa.Table,
    new: pa.Table,
    model: dict[str, Any],
    *,
    threshold: float,
    backend: str = "duckdb",
    memory_limit: str | None = None,
) -> ScoredPairs:
    """Pairs scoring at least `threshold` between new and existing profiles (existing
    on the left), then among the new ones (lower id on the left); existing profiles
    are not compared with each other.

    A profile in both tables counts as new: its `new` row replaces the `existing` one.
    Term frequencies (how common a name or postcode is) come from both tables together.
    """
    check_model(model, backend)
    new_records = prepare_records(new)
    existing_records = prepare_records(existing)
    replaced = pc.is_in(existing_records["unique_id"], value_set=new_records["unique_id"])
    existing_records = existing_records.filter(pc.invert(replaced))
    everyone = without_placeholders(pa.concat_tables([existing_records, new_records]))
    existing_records = everyone.slice(0, existing_records.num_rows)
    new_records = everyone.slice(existing_records.num_rows)
    with database(backend, memory_limit) as db_api:
        linker = Linker(
            register(db_api, everyone, "all_profiles"), _splink_model(model), log_level=None
        )
        for column in _term_frequency_columns(model):
            linker.table_management.compute_tf_table(column)
        existing_frame = register(db_api, existing_records, "existing_profiles")
        new_frame = register(db_api, new_records, "new_profiles")
        inference = linker.inference
        pairs = ScoredPairs()
        if existing_records.num_rows and new_records.num_rows:
            between = inference.predict_between(
                existing_frame,
                new_frame,
                threshold_match_probability=threshold,
                warning_mode="never",
            )
            pairs.extend(_scored_pairs(between, model))
            pairs.comparisons += _count_comparisons(
                [existing_frame, new_frame], link_type="link_only"
            )
        if new_records.num_rows > 1:
            within = inference.predict_within(
                new_frame, threshold_match_probability=threshold, warning_mode="never"
            )
            pairs.extend(_scored_pairs(within, model))
            pairs.comparisons += _count_comparisons([new_frame], link_type="dedupe_only")
        return pairs


def score_record_pairs(
    left: pa.Table,
    right: pa.Table,
    model: dict[str, Any],
    *,
    reference: pa.Table | None = None,
    backend: str = "duckdb",
    memory_limit: str | None = None,
) -> list[ScoredPair]:
    """Score every record of `left` against every record of `right`, without blocking:
    for explaining or re-checking a few chosen pairs (a merge decision's evidence).

    Term frequencies come from `reference` (the profiles the model was trained on,
    say), or from `left` and `right` when no reference is given.
    """
    check_model(model, backend)
    left_records = prepare_records(left)
    right_records = prepare_records(right)
    background = (
        prepare_records(reference)
        if reference is not None
        else pa.concat_tables([left_records, right_records])
    )
    with database(backend, memory_limit) as db_api:
        linker = Linker(
            register(db_api, background, "reference_profiles"),
            _splink_model(model),
            log_level=None,
        )
        for column in _term_frequency_columns(model):
            linker.table_management.compute_tf_table(column)
        scored = linker.inference.score_pairs(
            register(db_api, left_records, "left_profiles"),
            register(db_api, right_records, "right_profiles"),
        )
        return _scored_pairs(scored, model)


def _term_frequency_columns(model: dict[str, Any]) -> list[str]:
    columns = {
        level["tf_adjustment_column"]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(columns)
