"""Golden-record rules: a rule that does not exist is refused by name, at startup and
wherever the rules are read, instead of quietly behaving as most_recent."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from identity.engine.golden import Observation, UnknownRule, build_golden_record

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
