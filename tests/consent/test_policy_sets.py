"""The set-based consent read (one PostgreSQL query for every profile and purpose, what
an audience of 700,000 members uses) answers exactly what the engine's rules answer
profile by profile, over every rule: latest record in force, expiry, records given
later than the moment asked about, the same instant, the most restrictive across merged
profiles, regional and EEA defaults, a country that is not a string, and an erased
person (records gone, identifiers on the suppression list)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cdp.models import Profile
from consent.models import DataSubjectRequest, Purpose, SuppressedIdentifier
from consent.policy import (
    allowed_profiles,
    answers_in_one_query,
    answers_per_profile,
    decisions,
    may_use,
    refusals,
)
from consent.privacy import erase
from consent.services import record_consent
from identity.models import Identifier

AT = timezone.now().replace(microsecond=0) - timedelta(days=1)

# name -> (may "opt_in" (opt-in, opt-out in the US) use it, may "opt_out" (opt-out,
# opt-in in the EU) use it), worked out by hand from the rules.
EXPECTED = {
    "granted": (True, True),
    "denied": (False, False),
    "withdrawn_after_granting": (False, False),
    "granted_again_after_denying": (True, True),
    "expired_grant_gb": (False, True),  # nothing in force: the defaults, GB not in the EEA
    "granted_only_later_fr": (False, False),  # not yet given: defaults, FR in the EEA
    "silent_de_untidy": (False, False),  # " de " is Germany: the EU default
    "silent_us": (True, True),  # the US default of the opt-in purpose is opt-out
    "silent_numeric_country": (False, True),  # 49 is no country: the plain defaults
    "merged_root_granted": (False, False),  # a profile merged into it denied
    "same_instant_denied_last": (False, False),  # of two at one instant, the later recorded
    "same_instant_granted_last": (True, True),
    "erased": (False, True),  # its grants went with it
}


@pytest.fixture
def people(db):
    opt_in = Purpose.objects.create(
        key="opt_in", name="Opt-in", default="opt_in", region_defaults={"US": "opt_out"}
    )
    opt_out = Purpose.objects.create(
        key="opt_out", name="Opt-out", default="opt_out", region_defaults={"EU": "opt_in"}
    )
    both = (opt_in, opt_out)
    countries = {
        "expired_grant_gb": "GB",
        "granted_only_later_fr": "FR",
        "silent_de_untidy": " de ",
        "silent_us": "US",
        "silent_numeric_country": 49,
        "erased": "GB",
    }
    made = {
        name: Profile.objects.create(
            traits={"country": countries[name]} if name in countries else {}
        )
        for name in EXPECTED
    }

    def say(name, status, days_before, **more):
        for purpose in both:
            record_consent(made[name], purpose, status, channel="api",
                           given_at=AT - timedelta(days=days_before), **more)  # fmt: skip

    say("granted", "granted", 3)
    say("denied", "denied", 3)
    say("withdrawn_after_granting", "granted", 5)
    say("withdrawn_after_granting", "withdrawn", 2)
    say("granted_again_after_denying", "denied", 5)
    say("granted_again_after_denying", "granted", 2)
    say("expired_grant_gb", "granted", 9, expires_at=AT - timedelta(hours=1))
    say("granted_only_later_fr", "granted", -1)
    say("merged_root_granted", "granted", 3)
    say("same_instant_denied_last", "granted", 3)
    say("same_instant_denied_last", "denied", 3)
    say("same_instant_granted_last", "denied", 3)
    say("same_instant_granted_last", "granted", 3)
    say("erased", "granted", 3)
    merged = Profile.objects.create(traits={})
    for purpose in both:
        record_consent(merged, purpose, "denied", channel="api", given_at=AT - timedelta(days=1))
    Profile.objects.filter(pk=merged.pk).update(merged_into=made["merged_root_granted"])
    Identifier.objects.create(
        profile=made["erased"], kind="email", value="gone@example.com", first_seen=AT, last_seen=AT
    )
    request = DataSubjectRequest.objects.create(kind="erasure", identifier="email:gone@example.com")
    erase(request, made["erased"])
    assert SuppressedIdentifier.objects.filter(kind="email").exists()
    return {name: profile.pk for name, profile in made.items()}, both


def test_every_rule_gives_the_hand_worked_answer_read_as_a_set_or_per_profile(people):
    ids, (opt_in, opt_out) = people
    for index, purpose in enumerate((opt_in, opt_out)):
        expected = {ids[name] for name, allowed in EXPECTED.items() if allowed[index]}
        decided = decisions(purpose, ids.values(), at=AT)
        assert {pk for pk, (_, allowed) in decided.items() if allowed} == expected, purpose.key
        assert allowed_profiles(purpose, ids.values(), at=AT) == expected
        assert refusals([purpose], ids.values(), at=AT) == {
            purpose.key: set(ids.values()) - expected
        }
        assert [may_use(purpose, pk, at=AT) for pk in ids.values()] == [
            pk in expected for pk in ids.values()
        ]
    assert decisions(opt_in, [ids["merged_root_granted"]], at=AT) == {
        ids["merged_root_granted"]: ("denied", False)
    }
    assert decisions(opt_in, [ids["expired_grant_gb"]], at=AT)[ids["expired_grant_gb"]][0] is None


# The one query is PostgreSQL's; other databases answer per profile (the test above
# holds both paths to the hand-worked answers on each database).
only_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one consent query is PostgreSQL's"
)


@only_postgres
def test_the_one_query_and_the_engine_per_profile_answer_the_same(people):
    ids, both = people
    for granted_too in (True, False):
        in_sql = set(answers_in_one_query(both, set(ids.values()), at=AT, granted_too=granted_too))
        in_python = set(
            answers_per_profile(both, set(ids.values()), at=AT, granted_too=granted_too)
        )
        assert in_sql == in_python
        assert len(in_sql) == (2 * len(ids) if granted_too else 2 * len(ids) - 6)


@only_postgres
def test_many_purposes_refuse_in_one_read(people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ids, both = people
    with CaptureQueriesContext(connection) as captured:
        refused = refusals(list(both), ids.values(), at=AT)
    # Besides the read's own settings (its work_mem, no JIT: set and put back inside a
    # savepoint): who is merged in (twice), then the one read.
    settings = ("SAVEPOINT", "RELEASE SAVEPOINT", "SELECT current_setting", "SELECT set_config")
    reads = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(settings)]
    assert len(reads) == 3, reads
    assert len(captured.captured_queries) - len(reads) == 5
    assert {key: len(pks) for key, pks in refused.items()} == {
        "opt_in": sum(not a for a, _ in EXPECTED.values()),
        "opt_out": sum(not b for _, b in EXPECTED.values()),
    }
