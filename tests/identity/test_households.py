"""Households: a landline or a family email shared by people whose names differ joins
nobody in stitching; one person's records under a nickname, a typo or no name still do."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cdp.models import Profile
from cdp.services.imports import import_file
from cdp.services.sources import create_source
from cdp.site.demo.labelled_records import make_population
from identity.engine.evaluation import pairwise_scores
from identity.engine.names import names_contradict
from identity.models import Identifier, MergeDecision, Refusal
from identity.selectors import identifier_profiles

pytestmark = pytest.mark.django_db

LANDLINE = "+1 617 555 0142"


def crm_row(crm_id, first_name, last_name="Smith", phone=LANDLINE, **traits):
    return {
        "type": "identify",
        "traits": {"first_name": first_name, "last_name": last_name, "phone": phone, **traits},
        "context": {"externalIds": [{"id": crm_id, "type": "crm_id"}]},
    }


def profile_of(kind, value):
    return Identifier.objects.get(kind=kind, value=value).profile_id


def test_a_household_sharing_a_landline_is_not_merged_when_the_names_differ(deliver):
    deliver(crm_row("C-1", "Mary"), source="crm", kind="crm")
    deliver(crm_row("C-2", "John"), source="crm", kind="crm")

    mary, john = profile_of("crm_id", "C-1"), profile_of("crm_id", "C-2")
    assert mary != john
    assert not MergeDecision.objects.exists()
    # The landline stays where it was first seen; John's profile has a profile of its
    # own, with his record and traits, and the refusal says why.
    assert profile_of("phone", "+16175550142") == mary
    assert Profile.objects.get(pk=john).traits["first_name"] == "John"
    refusal = Refusal.objects.get(reason="names")
    assert (refusal.kind, refusal.value, refusal.profiles) == ("phone", "+16175550142", [mary])
    assert "household" in refusal.detail
    # A household's landline is not a culprit: it is not quarantined however many share it.
    deliver(crm_row("C-3", "Emma"), crm_row("C-4", "Noah"), source="crm", kind="crm")
    assert len({profile_of("crm_id", f"C-{n}") for n in range(1, 5)}) == 4
    assert Identifier.objects.get(kind="phone").status == Identifier.Status.ACTIVE


def test_two_existing_profiles_are_not_joined_by_a_shared_email_across_names(deliver):
    deliver({"type": "identify", "anonymousId": "a-ann", "traits": {"first_name": "Ann"}})
    deliver(
        {"type": "identify", "anonymousId": "a-ann", "traits": {"email": "smiths@example.com"}},
        {"type": "identify", "anonymousId": "a-bob", "traits": {"first_name": "Bob"}},
    )
    # Bob's browser then sends the family email (no limit stands in the way: anonymous
    # ids and emails are far below theirs).
    deliver({"type": "identify", "anonymousId": "a-bob", "traits": {"email": "smiths@example.com"}})
    assert profile_of("anonymous_id", "a-ann") != profile_of("anonymous_id", "a-bob")
    assert Refusal.objects.filter(reason="names", kind="email").count() == 1
    assert not Refusal.objects.exclude(reason="names").exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("William", "Bill"),  # a nickname (the nicknames dataset)
        ("Jonathan", "Jonahtan"),  # a typo
        ("Elizabeth", "E."),  # an initial
        ("Katherine", "KATHERINE"),
    ],
)
def test_one_person_under_another_form_of_the_name_is_merged(deliver, first, second):
    deliver(crm_row("C-1", first), source="crm", kind="crm")
    deliver(crm_row("C-2", second), source="crm", kind="crm")

    assert profile_of("crm_id", "C-1") == profile_of("crm_id", "C-2")
    assert not Refusal.objects.filter(reason="names").exists()


def test_first_and_last_name_swapped_is_one_person(deliver):
    deliver(crm_row("C-1", "Wei", last_name="Chen"), source="crm", kind="crm")
    deliver(crm_row("C-2", "Chen", last_name="Wei"), source="crm", kind="crm")
    assert profile_of("crm_id", "C-1") == profile_of("crm_id", "C-2")


def test_a_record_without_a_name_joins_the_phone_it_shares(deliver):
    deliver(crm_row("C-1", "Mary"), source="crm", kind="crm")
    deliver(
        {
            "type": "identify",
            "traits": {"phone": LANDLINE},
            "context": {"externalIds": [{"id": "POS-9", "type": "loyalty_id"}]},
        },
        source="pos",
        kind="pos",
    )
    assert profile_of("loyalty_id", "POS-9") == profile_of("crm_id", "C-1")


def test_the_check_can_be_turned_off(deliver, settings):
    settings.OMNITRAIL_NAME_CHECKED_KINDS = []
    deliver(crm_row("C-1", "Mary"), crm_row("C-2", "John"), source="crm", kind="crm")
    assert profile_of("crm_id", "C-1") == profile_of("crm_id", "C-2")


def test_a_strong_identifier_joins_whatever_the_names_say(deliver):
    """A userId or a CRM id is one person's own: a renamed account stays one profile."""
    deliver({"type": "identify", "userId": "u-7", "traits": {"first_name": "Sam"}})
    deliver({"type": "identify", "userId": "u-7", "traits": {"first_name": "Alex"}})
    assert Profile.objects.filter(merged_into=None).count() == 1


def test_names_contradict_only_when_both_sides_have_names():
    assert names_contradict([("mary", "smith")], [("john", "smith")])
    assert not names_contradict([], [("john", "smith")])
    assert not names_contradict([("mary", None), ("john", None)], [("john", "smith")])
    assert not names_contradict([("smith", "john")], [("john", "smith")])


# -- measured on the labelled generator -------------------------------------------------

FIELDS = ("first_name", "last_name", "email", "phone", "birthday", "street", "city")


def _stitched_scores(tmp_path, records, truth):
    source = create_source("crm", kind="crm")[0]
    path = Path(tmp_path) / "crm.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["crm_id", *FIELDS, "postal_code"])
        for r in records:
            writer.writerow(
                [f"crm-{r.unique_id}", *[getattr(r, f) or "" for f in FIELDS], r.postal_code]
            )
    import_file(source, path, kind="records", id_column="crm_id")
    from identity.services.stitching import resolve_pending

    resolve_pending()
    profiles = {
        value: pk for (kind, value), pk in identifier_profiles().items() if kind == "crm_id"
    }
    return pairwise_scores(profiles, {f"crm-{uid}": person for uid, person in truth.items()})


def test_stitching_the_labelled_generator_keeps_households_apart(tmp_path, settings):
    """600 people of cdp/site/demo/labelled_records.py (8% live with someone, 30% of
    those share the landline): stitching alone, with the household check and without.
    Measured: precision 0.946 -> 1.000, recall 0.920 -> 0.919 (docs/identity.md)."""
    records, truth = make_population(600, seed=11)
    checked = _stitched_scores(tmp_path, records, truth)
    assert checked.precision >= 0.99, checked

    for model in (MergeDecision, Refusal, Identifier):
        model.objects.all().delete()
    from cdp.models import Touchpoint

    Touchpoint.objects.update(resolved_at=None, profile=None)
    Profile.objects.all().delete()
    settings.OMNITRAIL_NAME_CHECKED_KINDS = []
    from identity.services.stitching import resolve_pending

    resolve_pending()
    profiles = {
        value: pk for (kind, value), pk in identifier_profiles().items() if kind == "crm_id"
    }
    unchecked = pairwise_scores(profiles, {f"crm-{uid}": person for uid, person in truth.items()})
    assert unchecked.precision < 0.96 and unchecked.recall >= 0.9, unchecked
    assert checked.recall >= unchecked.recall - 0.01, (unchecked, checked)
    print(f"stitching the labelled generator: without the check {unchecked}, with {checked}")
