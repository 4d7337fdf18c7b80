"""Golden-record rules: a rule that does not exist is refused by name, at startup and
wherever the rules are read, instead of quietly behaving as most_recent."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from identity.engine.golden import Observation, UnknownRule, build_golden_record, rule_problems

SAID = [
    Observation("city", "Leeds", "crm", datetime(2026, 9, 1, tzinfo=UTC)),
    Observation("city", "York", "web", datetime(2026, 9, 5, tzinfo=UTC)),
    Observation("city", "Leeds", "pos", datetime(2026, 9, 3, tzinfo=UTC)),
]


def test_each_rule_picks_its_value():
    assert build_golden_record(SAID, rules={"*": "most_recent"})[0] == {"city": "York"}
    assert build_golden_record(SAID, rules={"city": "most_frequent"})[0] == {"city": "Leeds"}
    chosen, provenance = build_golden_record(
        SAID, rules={"*": "source_priority"}, source_priority=["pos", "crm"]
    )
    assert chosen == {"city": "Leeds"} and provenance["city"]["source"] == "pos"


def test_a_misspelt_rule_is_refused_naming_the_trait_and_the_rule():
    with pytest.raises(UnknownRule, match="trait 'city': unknown rule 'most_recnt'"):
        build_golden_record(SAID, rules={"*": "most_recent", "city": "most_recnt"})


def test_startup_checks_refuse_an_unknown_rule_in_the_setting():
    with override_settings(OMNITRAIL_TRAIT_RULES={"*": "most_recent", "email": "newest"}):
        with pytest.raises(SystemCheckError) as refused:
            call_command("check")
    assert "identity.E001" in str(refused.value)
    assert "OMNITRAIL_TRAIT_RULES: trait 'email': unknown rule 'newest'" in str(refused.value)


def test_startup_checks_pass_with_known_rules():
    with override_settings(OMNITRAIL_TRAIT_RULES={"*": "most_recent", "city": "most_frequent"}):
        call_command("check")


def test_blank_values_say_nothing_and_do_not_hide_what_follows():
    said = [
        Observation("city", "", "web", datetime(2026, 9, 9, tzinfo=UTC)),
        Observation("city", None, "web", datetime(2026, 9, 8, tzinfo=UTC)),
        Observation("city", "York", "crm", datetime(2026, 9, 1, tzinfo=UTC)),
        Observation("plan", "XXXX", "crm", datetime(2026, 9, 1, tzinfo=UTC)),
    ]

    traits, provenance = build_golden_record(said, rules={"*": "most_recent"})

    assert traits == {"city": "York", "plan": "XXXX"}
    assert provenance["city"] == {
        "source": "crm",
        "at": "2026-09-01T00:00:00+00:00",
        "rule": "most_recent",
    }


def test_most_frequent_counts_equal_lists_and_dicts_as_one_value():
    said = [
        Observation("tags", ["a", "b"], "crm", datetime(2026, 9, 1, tzinfo=UTC)),
        Observation("tags", ["a", "b"], "pos", datetime(2026, 9, 2, tzinfo=UTC)),
        Observation("tags", ["c"], "web", datetime(2026, 9, 3, tzinfo=UTC)),
        Observation("address", {"city": "Leeds"}, "crm", datetime(2026, 9, 1, tzinfo=UTC)),
        Observation("address", {"city": "York"}, "web", datetime(2026, 9, 3, tzinfo=UTC)),
        Observation("address", {"city": "Leeds"}, "pos", datetime(2026, 9, 2, tzinfo=UTC)),
    ]

    traits, provenance = build_golden_record(said, rules={"*": "most_frequent"})

    # Twice each; of the two, the most recent observation (pos, 2 September) is kept.
    assert traits == {"tags": ["a", "b"], "address": {"city": "Leeds"}}
    assert provenance["tags"]["source"] == provenance["address"]["source"] == "pos"


def test_several_misspelt_rules_are_all_named():
    with pytest.raises(
        UnknownRule,
        match=r"^trait 'city': unknown rule 'x' \(rules: most_recent, most_frequent, "
        r"source_priority\); trait 'plan': unknown rule 'y' \(rules: ",
    ):
        build_golden_record(SAID, rules={"city": "x", "plan": "y"})


def test_without_a_rule_for_the_rest_the_most_recent_value_is_kept_and_says_so():
    traits, provenance = build_golden_record(SAID, rules={"email": "most_frequent"})

    assert traits == {"city": "York"}
    assert provenance["city"] == {
        "source": "web",
        "at": "2026-09-05T00:00:00+00:00",
        "rule": "most_recent",
    }


@pytest.mark.parametrize(("rules", "named"), [("most_recent", "str"), (["email"], "list")])
def test_rules_that_are_not_a_mapping_are_refused_naming_what_was_given(rules, named):
    assert rule_problems(rules) == [f"must map traits to rules, got {named}"]
