"""Probabilistic matching of customer profiles with Splink. Pure: no Django.

Profiles that share no identifier can still be one person: "Jon Smith, 12 High St" and
"Jonathan Smith" with the same postcode and birthday. This module scores such pairs
with a Fellegi-Sunter model (Splink 5) trained on the platform's own profiles, on
DuckDB in-process by default or on Spark for data beyond one machine.

Records travel as `pyarrow.Table`s with the columns `unique_id` (the profile id) and
`MATCH_COLUMNS`; every function cleans its input with `prepare_records` first, so
callers may hand over raw or already prepared records. A trained model is a plain
JSON-serialisable dict (Splink's own model format), stored by the caller.
"""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from splink import ColumnExpression, Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl

from identity.engine.stitch import UnionFind

MATCH_COLUMNS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "street",
    "city",
    "postal_code",
)
BACKENDS = ("duckdb", "spark")

# Shortened first names and the full name they stand for; a name maps to one full
# name only, so ambiguous short names (pat, sandy, alex) are left alone.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "abigail": ("abby", "abbie", "gail"),
    "alexander": ("xander",),
    "andrew": ("andy", "drew"),
    "anthony": ("tony",),
    "benjamin": ("ben", "benny", "benji"),
    "catherine": ("cathy", "cath"),
    "charles": ("charlie", "chuck", "chas"),
    "christopher": ("chris", "kit"),
    "daniel": ("dan", "danny"),
    "david": ("dave", "davy"),
    "deborah": ("debbie", "deb", "debra"),
    "donald": ("don", "donnie"),
    "edward": ("ed", "eddie", "ted", "teddy", "ned"),
    "elizabeth": ("liz", "lizzie", "lizzy", "beth", "betty", "bette", "eliza", "libby"),
    "gregory": ("greg",),
    "james": ("jim", "jimmy", "jamie"),
    "jeffrey": ("jeff",),
    "jennifer": ("jen", "jenny", "jenn"),
    "jessica": ("jess", "jessie"),
    "john": ("johnny", "jack"),
    "jonathan": ("jon", "jonny", "jonty"),
    "joseph": ("joe", "joey"),
    "katherine": ("kate", "katie", "kathy", "kath", "kat", "kathryn", "katy", "kitty"),
    "kenneth": ("ken", "kenny"),
    "lawrence": ("larry", "laurie"),
    "margaret": ("maggie", "meg", "peggy", "madge"),
    "matthew": ("matt", "matty"),
    "michael": ("mike", "mikey", "mick", "micky"),
    "nicholas": ("nick", "nicky"),
    "rebecca": ("becky", "becca"),
    "richard": ("rick", "ricky", "rich", "richie", "dick"),
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "ronald": ("ron", "ronnie"),
    "samuel": ("sam", "sammy"),
    "steven": ("steve", "stevie", "stephen"),
    "susan": ("sue", "susie", "suzy"),
    "thomas": ("tom", "tommy"),
    "timothy": ("tim", "timmy"),
    "victoria": ("vicky", "vicki", "tori"),
    "william": ("bill", "billy", "will", "willy", "willie", "liam"),
}
CANONICAL_FIRST_NAME: dict[str, str] = {
    short: full for full, shorts in NICKNAMES.items() for short in shorts
}

# Street words and the abbreviation postal services use for them.
STREET_ABBREVIATIONS: dict[str, str] = {
    "apartment": "apt",
    "avenue": "ave",
    "boulevard": "blvd",
    "circle": "cir",
    "court": "ct",
    "crescent": "cres",
    "drive": "dr",
    "east": "e",
    "highway": "hwy",
    "lane": "ln",
    "mount": "mt",
    "north": "n",
    "parkway": "pkwy",
    "place": "pl",
    "road": "rd",
    "south": "s",
    "square": "sq",
    "street": "st",
    "suite": "ste",
    "terrace": "ter",
    "west": "w",
}

# The labels a pair's `levels` can hold, per comparison, strongest evidence first.
# The Django side shows them as a merge decision's evidence.
MISSING = "Missing"
DIFFERENT = "Different"
LEVEL_LABELS: dict[str, tuple[str, ...]] = {
    "first_name": (
        "Exact match",
        "Nickname match",
        "First and last name swapped",
        "Jaro-Winkler >0.92",
        "Jaro-Winkler >0.88",
        "Jaro-Winkler >0.7",
        DIFFERENT,
        MISSING,
    ),
    "last_name": (
        "Exact match",
        "First and last name swapped",
        "Jaro-Winkler >0.92",
        "Jaro-Winkler >0.88",
        "Jaro-Winkler >0.7",
        DIFFERENT,
        MISSING,
    ),
    "email": (
        "Exact match",
        "Username made of the names",
        "Username match",
        "Username Jaro-Winkler >0.88",
        DIFFERENT,
        MISSING,
    ),
    "phone": (
        "Exact match at the same address",
        "Exact match",
        "Last 7 digits match",
        DIFFERENT,
        MISSING,
    ),
    "birthday": (
        "Exact match",
        "1 character different",
        "Day and month swapped",
        "Same year and month",
        DIFFERENT,
        MISSING,
    ),
    "address": (
        "Postcode and street match",
        "Postcode match",
        "Street and city match",
        "City match",
        DIFFERENT,
        MISSING,
    ),
}

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

# An email or phone on more profiles than this is a placeholder ("none@none.com",
# "+10000000000"), not a person: it is treated as missing, so that it neither links
# strangers nor makes blocking on it compare every pair of its profiles.
PLACEHOLDER_MIN_PROFILES = 50

_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class MatchingBackendUnavailable(RuntimeError):
    """The requested backend cannot run here (its library is not installed)."""


class TooFewDuplicates(ValueError):
    """The training records hold no evident duplicates, or too few to estimate from, so
    there is nothing to learn what one person's records have in common from."""


@dataclass(frozen=True)
class ScoredPair:
    """Two profiles the model compared, and what it found."""

    left_id: int
    right_id: int
    match_probability: float
    match_weight: float
    levels: dict[str, str]  # comparison -> the label of the level the pair fell in


# -- cleaning -------------------------------------------------------------------------------


def _blank_to_null(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _squash_spaces(values: pa.ChunkedArray) -> pa.ChunkedArray:
    values = pc.replace_substring_regex(values, r"\s+", " ")
    return _blank_to_null(pc.utf8_trim_whitespace(values))


def _clean_name(values: pa.ChunkedArray) -> pa.ChunkedArray:
    # "José O'Brien-Smith" -> "jose obrien smith": accents, apostrophes and dots go.
    values = pc.utf8_normalize(values, form="NFKD")
    values = pc.replace_substring_regex(values, r"\p{M}+", "")
    values = pc.utf8_lower(values)
    values = pc.replace_substring_regex(values, r"['.`’]", "")
    values = pc.replace_substring_regex(values, r"[^\p{L}]+", " ")
    return _squash_spaces(values)


def _canonical_first_name(first_name: pa.ChunkedArray) -> pa.ChunkedArray:
    shorts = pa.array(list(CANONICAL_FIRST_NAME), pa.string())
    fulls = pa.array(list(CANONICAL_FIRST_NAME.values()), pa.string())
    position = pc.index_in(first_name, value_set=shorts)
    return pc.coalesce(pc.take(fulls, position), first_name)


def _clean_street(values: pa.ChunkedArray) -> pa.ChunkedArray:
    values = pc.utf8_lower(values)
    values = pc.replace_substring_regex(values, r"[^\p{L}\p{N}]+", " ")
    for word, abbreviation in STREET_ABBREVIATIONS.items():
        values = pc.replace_substring_regex(values, rf"\b{word}\b", abbreviation)
    return _squash_spaces(values)


def _clean_postal_code(values: pa.ChunkedArray) -> pa.ChunkedArray:
    # "sw1a 1aa" -> "SW1A1AA"; US ZIP+4 "94110-1234" -> "94110".
    values = pc.replace_substring_regex(pc.utf8_upper(values), r"[^\p{L}\p{N}]+", "")
    values = pc.replace_substring_regex(values, r"^(\d{5})\d{4}$", r"\1")
    return _blank_to_null(values)


def _clean_birthday(values: pa.ChunkedArray) -> pa.ChunkedArray:
    values = pc.utf8_trim_whitespace(values)
    valid = pc.match_substring_regex(values, r"^\d{4}-\d{2}-\d{2}$")
    return pc.if_else(valid, values, pa.scalar(None, pa.string()))


def prepare_records(table: pa.Table) -> pa.Table:
    """The records cleaned for matching, one row per input row.

    Names, emails and cities lower-cased and trimmed, a nickname resolved to its full
    name in `first_name_canonical`, phones reduced to digits and '+', postcodes
    upper-cased without spaces, streets with their words abbreviated, birthdays that
    are not 'YYYY-MM-DD' dropped. Missing columns and empty strings become nulls.
    Cleaning cleaned records changes nothing.
    """
    if "unique_id" not in table.column_names:
        raise ValueError("records need a 'unique_id' column (the profile id)")
    ids = table["unique_id"]
    if ids.null_count or pc.count_distinct(ids).as_py() != table.num_rows:
        raise ValueError("'unique_id' must be set on every record and differ between records")
    columns: dict[str, pa.ChunkedArray] = {}
    for name in MATCH_COLUMNS:
        if name in table.column_names:
            columns[name] = pc.cast(table[name], pa.string())
        else:
            columns[name] = pa.chunked_array([pa.nulls(table.num_rows, pa.string())])

    first_name = _clean_name(columns["first_name"])
    cleaned = {
        "unique_id": pc.cast(ids, pa.int64()),
        "first_name": first_name,
        "last_name": _clean_name(columns["last_name"]),
        "email": _squash_spaces(pc.utf8_lower(columns["email"])),
        "phone": _blank_to_null(pc.replace_substring_regex(columns["phone"], r"[^\d+]", "")),
        "birthday": _clean_birthday(columns["birthday"]),
        "street": _clean_street(columns["street"]),
        "city": _squash_spaces(pc.utf8_lower(columns["city"])),
        "postal_code": _clean_postal_code(columns["postal_code"]),
        "first_name_canonical": _canonical_first_name(first_name),
    }
    return pa.table(cleaned)


def _without_placeholders(records: pa.Table) -> pa.Table:
    for name in ("email", "phone"):
        counts = pc.value_counts(records[name])
        common = pc.filter(
            counts.field("values"),
            pc.greater(counts.field("counts"), PLACEHOLDER_MIN_PROFILES),
        )
        if len(common):
            column = records[name]
            blanked = pc.if_else(
                pc.is_in(column, value_set=common), pa.scalar(None, pa.string()), column
            )
            records = records.set_column(records.schema.get_field_index(name), name, blanked)
    return records


# -- the model ------------------------------------------------------------------------------


def _labelled(level, label: str):
    return level.configure(label_for_charts=label)


def _first_name_comparison() -> cl.CustomComparison:
    swapped = cll.And(
        cll.CustomLevel("first_name_l = last_name_r"),
        cll.CustomLevel("last_name_l = first_name_r"),
    )
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            _labelled(cll.NullLevel("first_name"), MISSING),
            _labelled(
                cll.ExactMatchLevel("first_name", term_frequency_adjustments=True), "Exact match"
            ),
            _labelled(cll.ExactMatchLevel("first_name_canonical"), "Nickname match"),
            _labelled(swapped, "First and last name swapped"),
            _labelled(cll.JaroWinklerLevel("first_name", 0.92), "Jaro-Winkler >0.92"),
            _labelled(cll.JaroWinklerLevel("first_name", 0.88), "Jaro-Winkler >0.88"),
            _labelled(cll.JaroWinklerLevel("first_name", 0.7), "Jaro-Winkler >0.7"),
            _labelled(cll.ElseLevel(), DIFFERENT),
        ],
    )


def _last_name_comparison() -> cl.CustomComparison:
    # A swap is one piece of evidence about both names; first_name weighs it, so here
    # it weighs nothing (m = u) rather than being counted twice.
    swapped = cll.And(
        cll.CustomLevel("first_name_l = last_name_r"),
        cll.CustomLevel("last_name_l = first_name_r"),
    ).configure(
        m_probability=0.001, u_probability=0.001, fix_m_probability=True, fix_u_probability=True
    )
    return cl.CustomComparison(
        output_column_name="last_name",
        comparison_levels=[
            _labelled(cll.NullLevel("last_name"), MISSING),
            _labelled(
                cll.ExactMatchLevel("last_name", term_frequency_adjustments=True), "Exact match"
            ),
            _labelled(swapped, "First and last name swapped"),
            _labelled(cll.JaroWinklerLevel("last_name", 0.92), "Jaro-Winkler >0.92"),
            _labelled(cll.JaroWinklerLevel("last_name", 0.88), "Jaro-Winkler >0.88"),
            _labelled(cll.JaroWinklerLevel("last_name", 0.7), "Jaro-Winkler >0.7"),
            _labelled(cll.ElseLevel(), DIFFERENT),
        ],
    )


def _email_comparison() -> cl.CustomComparison:
    username = ColumnExpression("email").regex_extract("^[^@]+")
    # Most usernames are made of the person's names (john.smith@...), so two John
    # Smiths share one by chance at another domain; the names already counted that.
    # Only a username that is not a name is evidence of its own.
    in_username = " OR ".join(
        f"(length({name}_{side}) > 2"
        f" AND strpos(email_{side}, {name}_{side}) BETWEEN 1 AND strpos(email_{side}, '@'))"
        for name in ("first_name", "last_name")
        for side in ("l", "r")
    )
    made_of_names = cll.And(
        cll.Or(cll.ExactMatchLevel(username), cll.JaroWinklerLevel(username, 0.88)),
        cll.CustomLevel(in_username, base_dialect_str="duckdb"),
    ).configure(
        m_probability=0.01, u_probability=0.01, fix_m_probability=True, fix_u_probability=True
    )
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            _labelled(cll.NullLevel("email"), MISSING),
            _labelled(cll.ExactMatchLevel("email", term_frequency_adjustments=True), "Exact match"),
            _labelled(made_of_names, "Username made of the names"),
            _labelled(cll.ExactMatchLevel(username), "Username match"),
            _labelled(cll.JaroWinklerLevel(username, 0.88), "Username Jaro-Winkler >0.88"),
            _labelled(cll.ElseLevel(), DIFFERENT),
        ],
    )


def _phone_comparison() -> cl.CustomComparison:
    last_seven = ColumnExpression("phone").regex_extract(r"[0-9]{7}$")
    # A phone shared at one address is often the household's landline: the address
    # comparison already counts living there, so the phone adds nothing of its own.
    # Sharing a phone from different addresses is the person's own number.
    at_same_address = cll.And(
        cll.ExactMatchLevel("phone"),
        cll.ExactMatchLevel("postal_code"),
        cll.JaroWinklerLevel("street", 0.9),
    ).configure(
        m_probability=0.01, u_probability=0.01, fix_m_probability=True, fix_u_probability=True
    )
    return cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            _labelled(cll.NullLevel("phone"), MISSING),
            _labelled(at_same_address, "Exact match at the same address"),
            _labelled(cll.ExactMatchLevel("phone"), "Exact match"),
            _labelled(cll.ExactMatchLevel(last_seven), "Last 7 digits match"),
            _labelled(cll.ElseLevel(), DIFFERENT),
        ],
    )


def _birthday_comparison() -> cl.CustomComparison:
    day_month_swapped = cll.CustomLevel(
        "substr(birthday_l, 1, 4) = substr(birthday_r, 1, 4)"
        " AND substr(birthday_l, 6, 2) = substr(birthday_r, 9, 2)"
        " AND substr(birthday_l, 9, 2) = substr(birthday_r, 6, 2)",
        base_dialect_str="duckdb",
    )
    year_month = ColumnExpression("birthday").substr(1, 7)
    return cl.CustomComparison(
        output_column_name="birthday",
        comparison_levels=[
            _labelled(cll.NullLevel("birthday"), MISSING),
            _labelled(cll.ExactMatchLevel("birthday"), "Exact match"),
            _labelled(cll.LevenshteinLevel("birthday", 1), "1 character different"),
            _labelled(day_month_swapped, "Day and month swapped"),
            _labelled(cll.ExactMatchLevel(year_month), "Same year and month"),
            _labelled(cll.ElseLevel(), DIFFERENT),
        ],
    )


def _address_comparison() -> cl.CustomComparison:
    # One comparison for the whole address: postcode, street and city move together
    # when someone moves, so scoring them apart would count one move three times.
    missing = cll.And(
        cll.NullLevel("postal_code"), cll.NullLevel("street"), cll.NullLevel("city")
    ).configure(is_null_level=True)
    postcode = cll.ExactMatchLevel("postal_code", term_frequency_adjustments=True)
    city = cll.ExactMatchLevel("city", term_frequency_adjustments=True)
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            _labelled(missing, MISSING),
            _labelled(
                cll.And(cll.ExactMatchLevel("postal_code"), cll.JaroWinklerLevel("street", 0.9)),
                "Postcode and street match",
            ),
            _labelled(postcode, "Postcode match"),
            _labelled(
                cll.And(cll.ExactMatchLevel("city"), cll.JaroWinklerLevel("street", 0.9)),
                "Street and city match",
            ),
            _labelled(city, "City match"),
            _labelled(cll.ElseLevel(), DIFFERENT),
        ],
    )


def _prediction_blocking_rules() -> list:
    # Equi-joins on values few profiles share, so the pairs to score grow about linearly
    # with the profiles. Surname and first initial alone was 139M pairs on 1M synthetic
    # profiles (everyone called J. Smith meets); surname and full first name is 19M and
    # found 0.991 of true pairs with the other rules instead of 0.993.
    first_initial = "substr(first_name_canonical, 1, 1)"
    last_initial = "substr(last_name, 1, 1)"
    return [
        block_on("email"),
        block_on("phone"),
        block_on("postal_code", last_initial, first_initial),
        block_on("last_name", "first_name_canonical"),
        block_on("birthday", last_initial),
        block_on("birthday", first_initial),
        "l.first_name = r.last_name AND l.last_name = r.first_name",
    ]


def build_settings(*, sql_dialect: str = "duckdb") -> dict[str, Any]:
    """The untrained Splink settings for profile deduplication, as a plain dict."""
    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _first_name_comparison(),
            _last_name_comparison(),
            _email_comparison(),
            _phone_comparison(),
            _birthday_comparison(),
            _address_comparison(),
        ],
        blocking_rules_to_generate_predictions=_prediction_blocking_rules(),
        retain_matching_columns=True,  # Splink only outputs the gamma_* levels with them
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
    )
    return creator.create_settings_dict(sql_dialect)


# -- running Splink -------------------------------------------------------------------------


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(logging.WARNING)


@contextmanager
def _database(backend: str, memory_limit: str | None) -> Iterator[Any]:
    """A fresh Splink database API for one call, closed (and its spill files removed)
    at the end."""
    _quiet_splink()
    if backend == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        if memory_limit is not None and not _MEMORY_LIMIT.match(memory_limit):
            raise ValueError(f"memory_limit must look like '2GB', got {memory_limit!r}")
        with tempfile.TemporaryDirectory(prefix="omnitrail-matching-") as spill_dir:
            connection = duckdb.connect()
            try:
                if memory_limit is not None:
                    connection.execute(f"SET memory_limit = '{memory_limit}'")
                connection.execute(f"SET temp_directory = '{spill_dir}'")
                connection.execute("SET preserve_insertion_order = false")
                yield DuckDBAPI(connection=connection)
            finally:
                connection.close()
    elif backend == "spark":
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:
            raise MatchingBackendUnavailable(
                "backend='spark' needs pyspark: pip install pyspark (and a Java runtime), "
                "or use backend='duckdb'"
            ) from error
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location

        # The master comes from spark-submit or SPARK_MASTER-style configuration; alone,
        # it is local mode. Splink's jar brings Jaro-Winkler; checkpoints break lineage.
        builder = SparkSession.builder.appName("omnitrail-matching").config(
            "spark.jars", similarity_jar_location()
        )
        spark = builder.getOrCreate()
        with tempfile.TemporaryDirectory(prefix="omnitrail-spark-") as checkpoints:
            spark.sparkContext.setCheckpointDir(checkpoints)
            yield SparkAPI(spark_session=spark)
    else:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _check_model(model: dict[str, Any], backend: str) -> None:
    _check_backend(backend)
    trained_on = model.get("sql_dialect", "duckdb")
    if trained_on != backend:
        raise ValueError(
            f"the model was trained on {trained_on}; retrain it with backend={backend!r}"
        )


def _register(db_api, table: pa.Table, name: str):
    # A Spark session outlives one call and keeps its tables: names must not repeat.
    return db_api.register(table, dataset_display_name=f"{name}_{uuid.uuid4().hex[:8]}")


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
    _check_backend(backend)
    records = _without_placeholders(prepare_records(table))
    with _database(backend, memory_limit) as db_api:
        profiles = _register(db_api, records, "profiles")
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


def _expectation_maximisation(linker: Linker, profiles, records: int, max_pairs: float) -> Linker:
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


def _scored_pairs(predictions, model: dict[str, Any]) -> list[ScoredPair]:
    labels = _level_labels(model)
    columns = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    columns += [f"gamma_{name}" for name in labels]
    result = predictions.query_sql(f"SELECT {', '.join(columns)} FROM {{this}}").as_pyarrow_table()
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
) -> list[ScoredPair]:
    """Every pair of profiles within `table` the blocking rules bring together that
    scores at least `threshold`, lower id on the left, sorted by ids."""
    _check_model(model, backend)
    records = _without_placeholders(prepare_records(table))
    with _database(backend, memory_limit) as db_api:
        profiles = _register(db_api, records, "profiles")
        linker = Linker(profiles, model, log_level=None)
        predictions = linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        return _scored_pairs(predictions, model)


def predict_new_against_existing(
    existing: pa.Table,
    new: pa.Table,
    model: dict[str, Any],
    *,
    threshold: float,
    backend: str = "duckdb",
    memory_limit: str | None = None,
) -> list[ScoredPair]:
    """Pairs scoring at least `threshold` between new and existing profiles (existing
    on the left), then among the new ones (lower id on the left); existing profiles
    are not compared with each other.

    A profile in both tables counts as new: its `new` row replaces the `existing` one.
    Term frequencies (how common a name or postcode is) come from both tables together.
    """
    _check_model(model, backend)
    new_records = prepare_records(new)
    existing_records = prepare_records(existing)
    replaced = pc.is_in(existing_records["unique_id"], value_set=new_records["unique_id"])
    existing_records = existing_records.filter(pc.invert(replaced))
    everyone = _without_placeholders(pa.concat_tables([existing_records, new_records]))
    existing_records = everyone.slice(0, existing_records.num_rows)
    new_records = everyone.slice(existing_records.num_rows)
    with _database(backend, memory_limit) as db_api:
        linker = Linker(_register(db_api, everyone, "all_profiles"), model, log_level=None)
        for column in _term_frequency_columns(model):
            linker.table_management.compute_tf_table(column)
        existing_frame = _register(db_api, existing_records, "existing_profiles")
        new_frame = _register(db_api, new_records, "new_profiles")
        inference = linker.inference
        pairs: list[ScoredPair] = []
        if existing_records.num_rows and new_records.num_rows:
            between = inference.predict_between(
                existing_frame,
                new_frame,
                threshold_match_probability=threshold,
                warning_mode="never",
            )
            pairs.extend(_scored_pairs(between, model))
        if new_records.num_rows > 1:
            within = inference.predict_within(
                new_frame, threshold_match_probability=threshold, warning_mode="never"
            )
            pairs.extend(_scored_pairs(within, model))
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
    _check_model(model, backend)
    left_records = prepare_records(left)
    right_records = prepare_records(right)
    background = (
        prepare_records(reference)
        if reference is not None
        else pa.concat_tables([left_records, right_records])
    )
    with _database(backend, memory_limit) as db_api:
        linker = Linker(_register(db_api, background, "reference_profiles"), model, log_level=None)
        for column in _term_frequency_columns(model):
            linker.table_management.compute_tf_table(column)
        scored = linker.inference.score_pairs(
            _register(db_api, left_records, "left_profiles"),
            _register(db_api, right_records, "right_profiles"),
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


# -- clusters -------------------------------------------------------------------------------


def cluster_pairs(
    ids: Iterable[int], pairs: Iterable[ScoredPair], *, threshold: float
) -> list[list[int]]:
    """Profiles joined, directly or through others, by pairs scoring at least
    `threshold`: each cluster of two or more sorted, clusters ordered by first id.

    Every id a pair names must be among `ids`; a pair naming another is a caller's
    mistake and raises ValueError.
    """
    known = set(ids)
    forest = UnionFind()
    for pair in pairs:
        if pair.match_probability < threshold:
            continue
        for profile in (pair.left_id, pair.right_id):
            if profile not in known:
                raise ValueError(
                    f"pair ({pair.left_id}, {pair.right_id}) names unknown id {profile}"
                )
        forest.union(pair.left_id, pair.right_id)
    clusters = [sorted(group) for group in forest.groups() if len(group) > 1]
    return sorted(clusters)
