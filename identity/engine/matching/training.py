"""Training the model on the platform's own profiles, without labels."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from splink import Linker, block_on
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
DETERMINISTIC_RULES_RECALL = 0.7

# Expectation maximisation blocks on fields that are independent of the ones it
# estimates: emails are usually made of names, so blocking on names would make name
# agreement look like a sure sign of a match (precision fell to 0.17 on 1M records).
# Each pass estimates every comparison except the one it blocks on. Postcode rather
# than phone for the second pass: people living together share a postcode, surname
# and often a landline, which EM (with u from random pairs) can only explain as
# matches, and profiles sharing a phone have mostly been stitched already.
# Two passes estimate every comparison (each all but the one it blocks on). On small
# data a pass can fail (see _expectation_maximisation); phone, then email, stand in.
EM_BLOCKING_RULES = (
    block_on("birthday"),
    block_on("postal_code"),
    block_on("phone"),
    block_on("email"),
)
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

    The share of pairs that match comes from deterministic rules, u (how often
    strangers agree) from `max_pairs` random pairs, m (how often one person agrees with
    themselves) by expectation maximisation on pairs blocked on birthday, then on
    postcode (phone, email when a pass fails). Returns Splink's JSON model dict.
    """
    check_backend(backend)
    records = without_placeholders(prepare_records(table))
    with database(backend, memory_limit) as db_api:
        profiles = register(db_api, records, "profiles")
        linker = Linker(profiles, build_settings(sql_dialect=backend), log_level=None)
        training = linker.training
        training.estimate_probability_two_random_records_match(
            list(DETERMINISTIC_RULES), recall=DETERMINISTIC_RULES_RECALL
        )
        if linker.misc.save_model_to_json()["probability_two_random_records_match"] == 0:
            raise TooFewDuplicates(
                f"none of the {records.num_rows} records share an email, a phone, or a name "
                "and birthday with another; train on records that include some duplicates"
            )
        training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        linker = _expectation_maximisation(linker, profiles, records.num_rows, max_pairs)
        return linker.misc.save_model_to_json()


def _expectation_maximisation(
    linker: Linker, profiles: SplinkDataFrame, records: int, max_pairs: float
) -> Linker:
    """Estimate m by EM, blocking on the rules in turn until `EM_PASSES` passes worked;
    returns the linker holding the trained model.

    Splink 5 refuses an m probability that comes out as exactly 0, which happens on a
    few thousand records when every pair in some level of a block is a sure non-match.
    A failed pass leaves the linker's settings as it set them up for itself (without the
    comparisons it blocks on, with a blocking-adjusted prior), so training goes on from a
    linker rebuilt from the model as it was before that pass.
    """
    done, errors = 0, []
    for rule in EM_BLOCKING_RULES:
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
        if done == EM_PASSES:
            return linker
    raise TooFewDuplicates(
        f"{records} records are too few to estimate the model by expectation "
        f"maximisation: {'; '.join(errors)}"
    )
