"""Training the model on the platform's own profiles, without labels."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from splink import Linker, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.splink_dataframe import SplinkDataFrame

from identity.engine.matching.backends import check_backend, database, register
from identity.engine.matching.cleaning import prepare_records, without_placeholders
from identity.engine.matching.comparisons import build_settings

# Rules that admit almost only true matches: they count matches to estimate how
# likely two random profiles are one person, assuming they find that share of them.
DETERMINISTIC_RULES = (
    block_on("email"),
    block_on("first_name", "last_name", "birthday"),
    block_on("phone", "first_name_canonical"),
)
# Records whose duplicates all have typos (a CRM export: no email or phone, a misspelt
# name) share none of those keys. Looser rules find them, each requiring agreement on
# two independent things (a surname and a birth year within a postcode, a first name
# and a birthday): they let in a few strangers but far more typo'd duplicates. The
# prior counts the pairs either set finds and takes them for 80% of all matches: on
# FEBRL1 that estimates 0.00100 (the truth: 500 pairs in 499,500, 0.00100), where the
# strict rules alone at 70% said 0.00058; on the labelled generator both agree.
LOOSER_RULES = (
    block_on("last_name", "postal_code", "substr(birthday, 1, 4)"),
    block_on("first_name_canonical", "birthday"),
    block_on("last_name", "birthday"),
    block_on("first_name_canonical", "last_name", "postal_code"),
    block_on("first_name_canonical", "street"),
)
PRIOR_RULES = DETERMINISTIC_RULES + LOOSER_RULES
PRIOR_RULES_RECALL = 0.8
# Fewer pairs than this (at least one per 200 records) are strangers agreeing by chance
# (two neighbours of one surname born the same year), not duplicates to learn from.
MIN_PRIOR_PAIRS = 10
RECORDS_PER_PRIOR_PAIR = 200

# Expectation maximisation blocks on fields that are independent of the ones it
# estimates: emails are usually made of names, so blocking on names would make name
# agreement look like a sure sign of a match (precision fell to 0.17 on 1M records).
# Each pass estimates every comparison except the one it blocks on. Postcode rather
# than phone for the second pass: people living together share a postcode, surname
# and often a landline, which EM (with u from random pairs) can only explain as
# matches, and profiles sharing a phone have mostly been stitched already.
# Two passes estimate every comparison (each all but the one it blocks on). On small
# data a pass can fail (see _expectation_maximisation); phone, then email, stand in.
EM_COLUMNS = ("birthday", "postal_code", "phone", "email")
EM_BLOCKING_RULES = tuple(block_on(column) for column in EM_COLUMNS)
EM_PASSES = 2


class TooFewDuplicates(ValueError):
    """The training records hold no evident duplicates, or too few to estimate from, so
    there is nothing to learn what one person's records have in common from."""


def train_model(
    table: pa.Table,
    *,
    backend: str = "duckdb",
    memory_limit: str | None = "2GB",
    seed: int = 0,
    max_pairs: float = 2e6,
) -> dict[str, Any]:
    """Estimate the model's parameters from the platform's own profiles; no labels.

    The share of pairs that match comes from deterministic rules, strict and looser;
    u (how often strangers agree) from `max_pairs` random pairs; m (how often one person
    agrees with themselves) by expectation maximisation on pairs blocked on birthday,
    then on postcode (phone, email when a pass fails). Returns Splink's JSON model dict,
    with how it was trained under the key `omnitrail_training` (left out of what Splink
    reads).
    """
    check_backend(backend)
    records = without_placeholders(prepare_records(table))
    with database(backend, memory_limit) as db_api:
        profiles = register(db_api, records, "profiles")
        linker = Linker(profiles, build_settings(sql_dialect=backend), log_level=None)
        training = {"records": records.num_rows} | _estimate_prior(linker, profiles, records)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        linker, passes = _expectation_maximisation(linker, profiles, records.num_rows, max_pairs)
        model = linker.misc.save_model_to_json()
        model["omnitrail_training"] = training | {"em_blocked_on": passes}
        return model


def _count_pairs(profiles: SplinkDataFrame, rules: tuple[BlockingRuleCreator, ...]) -> int:
    counted = count_comparisons_from_blocking_rules(
        profiles, blocking_rules=list(rules), link_type="dedupe_only", record_sample_proportion=1.0
    )
    return int(counted[-1]["cumulative_comparison_count"]) if counted else 0


def _estimate_prior(linker: Linker, profiles: SplinkDataFrame, records: pa.Table) -> dict[str, Any]:
    """Set the probability that two random records match; returns how it was found."""
    strict = _count_pairs(profiles, DETERMINISTIC_RULES)
    found = _count_pairs(profiles, PRIOR_RULES)
    if found < max(MIN_PRIOR_PAIRS, records.num_rows // RECORDS_PER_PRIOR_PAIR):
        raise TooFewDuplicates(
            f"none of the {records.num_rows} records share an email, a phone, a name and "
            "birthday, or a surname, postcode and birth year with another (or too few to "
            f"tell from chance: {found} pairs); train on records that include some duplicates"
        )
    rules, recall = PRIOR_RULES, PRIOR_RULES_RECALL
    linker.training.estimate_probability_two_random_records_match(list(rules), recall=recall)
    probability = linker.misc.save_model_to_json()["probability_two_random_records_match"]
    return {
        "prior_pairs": found,  # found by the strict and the looser rules together
        "strict_rule_pairs": strict,
        "looser_rule_pairs": found - strict,
        "assumed_recall": recall,
        "probability_two_random_records_match": probability,
        "rules": [_rule_sql(rule, linker) for rule in rules],
    }


def _rule_sql(rule: BlockingRuleCreator, linker: Linker) -> str:
    dialect = linker._db_api.sql_dialect.sql_dialect_str
    return str(rule.get_blocking_rule(dialect).blocking_rule_sql)


def _expectation_maximisation(
    linker: Linker, profiles: SplinkDataFrame, records: int, max_pairs: float
) -> tuple[Linker, list[str]]:
    """Estimate m by EM, blocking on the rules in turn until `EM_PASSES` passes worked;
    returns the linker holding the trained model and the columns each pass blocked on.

    Splink 5 refuses an m probability that comes out as exactly 0, which happens on a
    few thousand records when every pair in some level of a block is a sure non-match.
    A failed pass leaves the linker's settings as it set them up for itself (without the
    comparisons it blocks on, with a blocking-adjusted prior), so training goes on from a
    linker rebuilt from the model as it was before that pass.
    """
    done, errors, passes = 0, [], []
    for column, rule in zip(EM_COLUMNS, EM_BLOCKING_RULES, strict=True):
        before = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=max_pairs
            )
        except ValueError as error:
            errors.append(str(error))
            linker = Linker(profiles, before, log_level=None)
            continue
        done += 1
        passes.append(column)
        if done == EM_PASSES:
            return linker, passes
    raise TooFewDuplicates(
        f"{records} records are too few to estimate the model by expectation "
        f"maximisation: {'; '.join(errors)}"
    )
