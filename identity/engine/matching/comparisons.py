"""The model's comparisons and blocking rules: how two match records are compared,
level by level, and which pairs are compared at all. Splink settings, untrained.
"""

from __future__ import annotations

from typing import Any

from splink import ColumnExpression, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.blocking_rule_library import CustomRule
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator

from identity.engine.matching.columns import DIFFERENT, MISSING


def _labelled(level: ComparisonLevelCreator, label: str) -> ComparisonLevelCreator:
    return level.configure(label_for_charts=label)


# The Jaro-Winkler function in each backend's SQL (Splink's jar registers it on Spark).
_JARO_WINKLER = {"duckdb": "jaro_winkler_similarity", "spark": "jaro_winkler"}


def _first_name_comparison(sql_dialect: str) -> cl.CustomComparison:
    swapped = cll.And(
        cll.CustomLevel("first_name_l = last_name_r"),
        cll.CustomLevel("last_name_l = first_name_r"),
    )
    # Swapped and misspelt at once (a clerk typing "smiht, john" into the wrong boxes).
    similarity = _JARO_WINKLER[sql_dialect]
    swapped_similar = cll.And(
        cll.CustomLevel(f"{similarity}(first_name_l, last_name_r) > 0.88"),
        cll.CustomLevel(f"{similarity}(last_name_l, first_name_r) > 0.88"),
    )
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            _labelled(cll.NullLevel("first_name"), MISSING),
            _labelled(
                cll.ExactMatchLevel("first_name", term_frequency_adjustments=True), "Exact match"
            ),
            _labelled(cll.ArrayIntersectLevel("first_name_forms", 1), "Nickname match"),
            _labelled(swapped, "First and last name swapped"),
            _labelled(cll.JaroWinklerLevel("first_name", 0.92), "Jaro-Winkler >0.92"),
            _labelled(cll.JaroWinklerLevel("first_name", 0.88), "Jaro-Winkler >0.88"),
            _labelled(swapped_similar, "Swapped, Jaro-Winkler >0.88"),
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
            # The street alone: a mistyped postcode with the town mistyped or missing
            # (a CRM row without its town) is still the same street. Without this level
            # such pairs counted as two different addresses, as much evidence against
            # as a move; on FEBRL2 that alone cost 13 of the 33 true pairs missed.
            _labelled(cll.JaroWinklerLevel("street", 0.9), "Street match"),
            _labelled(cll.ElseLevel(), DIFFERENT),
        ],
    )


def prediction_blocking_rules() -> list[BlockingRuleCreator]:
    # At least as wide as a plain Splink script on the same fields (names; birthday;
    # postcode; street; phone; email): records whose duplicates have a typo in every
    # name still share a birthday, a postcode or a street. Birthday and postcode alone
    # compare more pairs (a postcode's residents meet), which is what finds those.
    return [
        block_on("email"),
        block_on("phone"),
        block_on("first_name", "last_name"),
        block_on("last_name", "first_name_canonical"),
        block_on("birthday"),
        block_on("postal_code"),
        block_on("street"),
        CustomRule("l.first_name = r.last_name AND l.last_name = r.first_name"),
    ]


# A rule on the postcode alone compares every pair of a postcode's records: a few pairs a
# record in a customer list spread over many postcodes (FEBRL2: 2.8), but it grows with
# the list where postcodes do not (the labelled generator's 100,000 records: 67 a
# record, 6.7 million comparisons; 1,000,000: about 800 million). Beyond
# POSTCODE_ALONE_BUDGET comparisons a record the postcode needs one more thing to
# block on: the first two letters of a name, or the birth year (a pair with a typo in
# both names' first letters and another birth year is still found by its street,
# birthday or the other rules).
POSTCODE_ALONE = 'l."postal_code" = r."postal_code"'
POSTCODE_AND_MORE = (
    '(l."postal_code" = r."postal_code") AND '
    "(substr(l.last_name, 1, 2) = substr(r.last_name, 1, 2))",
    '(l."postal_code" = r."postal_code") AND '
    "(substr(l.first_name, 1, 2) = substr(r.first_name, 1, 2))",
    '(l."postal_code" = r."postal_code") AND (substr(l.birthday, 1, 4) = substr(r.birthday, 1, 4))',
)
POSTCODE_ALONE_BUDGET = 10


def model_rules(model: dict[str, Any]) -> list[str]:
    """The model's blocking rules for predictions, as SQL on l and r."""
    return [
        rule["blocking_rule"] if isinstance(rule, dict) else str(rule)
        for rule in model["blocking_rules_to_generate_predictions"]
    ]


def narrowed_rules(rules: list[str]) -> list[str]:
    """The rules with the postcode alone replaced by POSTCODE_AND_MORE."""
    return [
        narrow
        for sql in rules
        for narrow in (POSTCODE_AND_MORE if sql == POSTCODE_ALONE else (sql,))
    ]


def build_settings(*, sql_dialect: str = "duckdb") -> dict[str, Any]:
    """The untrained Splink settings for profile deduplication, as a plain dict."""
    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _first_name_comparison(sql_dialect),
            _last_name_comparison(),
            _email_comparison(),
            _phone_comparison(),
            _birthday_comparison(),
            _address_comparison(),
        ],
        blocking_rules_to_generate_predictions=[*prediction_blocking_rules()],
        retain_matching_columns=True,  # Splink only outputs the gamma_* levels with them
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
    )
    return creator.create_settings_dict(sql_dialect)
