"""Deterministic stitching: one person, one profile; strangers never merged."""

import random

import pytest

from cdp.models import Profile, Touchpoint
from identity.models import Identifier, MergeDecision, Refusal
from identity.services.merging import unmerge
from identity.services.stitching import resolve_pending

pytestmark = pytest.mark.django_db


def profile_of(kind, value):
    return Identifier.objects.get(kind=kind, value=value).profile


def partition():
    """Touchpoints grouped by profile, as sets of message ids (ids of profiles aside)."""
    groups = {}
    for profile_id, message_id in Touchpoint.objects.values_list("profile_id", "message_id"):
        groups.setdefault(profile_id, set()).add(message_id)
    return {frozenset(group) for group in groups.values()}


def journey(person="u-1", phone_anon="a-phone", laptop_anon="a-laptop"):
    return [
        # anonymous browsing on the phone, then on the laptop
        {"type": "page", "anonymousId": phone_anon, "timestamp": "2026-09-01T10:00:00Z"},
        {"type": "page", "anonymousId": laptop_anon, "timestamp": "2026-09-02T10:00:00Z"},
        # login on the phone
        {
            "type": "identify",
            "anonymousId": phone_anon,
            "userId": person,
            "traits": {"email": f"{person}@example.com"},
            "timestamp": "2026-09-03T10:00:00Z",
        },
        # purchase on the laptop, logged in there too
        {
            "type": "track",
            "event": "Order Completed",
            "anonymousId": laptop_anon,
            "userId": person,
            "properties": {"revenue": 30},
            "timestamp": "2026-09-04T10:00:00Z",
        },
    ]


def test_browsing_login_and_purchase_on_another_device_end_on_one_profile(deliver):
    deliver(*journey()[:2])
    assert Profile.objects.filter(merged_into=None).count() == 2
    deliver(*journey()[2:])
    profile = profile_of("user_id", "u-1")
    assert Touchpoint.objects.filter(profile=profile).count() == 4
    assert set(Identifier.objects.filter(profile=profile).values_list("kind", "value")) == {
        ("user_id", "u-1"),
        ("anonymous_id", "a-phone"),
        ("anonymous_id", "a-laptop"),
        ("email", "u-1@example.com"),
    }
    assert Profile.objects.filter(merged_into=None).count() == 1
    decision = MergeDecision.objects.get()
    assert decision.survivor == profile
    assert decision.evidence == {"kind": "anonymous_id", "value": "a-laptop"}
    assert profile.traits["email"] == "u-1@example.com"


def test_alias_joins_the_previous_id_to_the_new_one(deliver):
    deliver({"type": "track", "event": "Product Viewed", "anonymousId": "anon-9"})
    deliver({"type": "alias", "previousId": "anon-9", "userId": "u-9"})
    profile = profile_of("user_id", "u-9")
    assert profile_of("anonymous_id", "anon-9") == profile
    assert Touchpoint.objects.filter(profile=profile).count() == 2


def test_a_national_phone_number_is_read_in_the_records_country(deliver):
    """A UK CRM row writes "07589 729978"; the app sends "+44 7589 729978": one person."""
    deliver(
        {"type": "identify", "userId": "u-uk", "traits": {"phone": "+44 7589 729978"}},
        source="app",
        kind="app",
    )
    deliver(
        {
            "type": "identify",
            "anonymousId": "crm-row-7",
            "traits": {"phone": "07589 729978", "country": "GB", "first_name": "Liz"},
        },
        source="crm",
        kind="crm",
    )

    assert profile_of("anonymous_id", "crm-row-7") == profile_of("user_id", "u-uk")
    assert profile_of("phone", "+447589729978") == profile_of("user_id", "u-uk")


def test_a_shared_email_on_500_profiles_does_not_merge_them(deliver):
    deliver(
        *[
            {"type": "identify", "userId": f"user-{n}", "traits": {"email": "family@example.com"}}
            for n in range(500)
        ]
    )
    assert Profile.objects.filter(merged_into=None).count() == 500
    assert MergeDecision.objects.count() == 0
    shared = Identifier.objects.get(kind="email", value="family@example.com")
    assert shared.status == Identifier.Status.QUARANTINED
    assert Refusal.objects.filter(reason="limit", value="family@example.com").exists()
    assert Refusal.objects.filter(reason="quarantine", value="family@example.com").count() == 1
    # every user keeps its own events
    assert all(
        Touchpoint.objects.get(user_id=f"user-{n}").profile == profile_of("user_id", f"user-{n}")
        for n in (0, 1, 250, 499)
    )


def test_blocklisted_and_placeholder_values_join_nothing(deliver):
    deliver(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"email": "test@test.com", "phone": "0000"},
        },
        {"type": "identify", "userId": "u-2", "traits": {"email": "TEST@test.com"}},
        {"type": "identify", "userId": "u-3", "anonymousId": "null"},
    )
    assert Profile.objects.filter(merged_into=None).count() == 3
    assert not Identifier.objects.filter(kind="email").exists()
    assert Refusal.objects.filter(reason="blocklist", value="test@test.com").exists()


def test_second_user_on_a_shared_browser_gets_a_profile_of_its_own(deliver):
    deliver({"type": "identify", "anonymousId": "kiosk", "userId": "ann"})
    deliver({"type": "track", "event": "Order Completed", "anonymousId": "kiosk", "userId": "bob"})
    ann, bob = profile_of("user_id", "ann"), profile_of("user_id", "bob")
    assert ann != bob
    assert Touchpoint.objects.get(user_id="bob").profile == bob
    assert Refusal.objects.filter(reason="limit", kind="anonymous_id", value="kiosk").exists()


def test_resolving_twice_changes_nothing(deliver):
    people = [journey(f"u-{n}", f"phone-{n}", f"laptop-{n}") for n in range(3)]
    deliver(*[event for person in people for event in person])
    before = (partition(), Identifier.objects.count(), MergeDecision.objects.count())
    assert len(before[0]) == 3 and before[2] > 0  # three people, each stitched from pieces

    # Every touchpoint resolved again from scratch, as if never seen: same grouping.
    pending = Touchpoint.objects.update(resolved_at=None)
    assert resolve_pending() == pending == Touchpoint.objects.count()
    assert (partition(), Identifier.objects.count(), MergeDecision.objects.count()) == before
    assert resolve_pending() == 0


def test_result_does_not_depend_on_batch_order(deliver):
    people = [journey(f"u-{n}", f"phone-{n}", f"laptop-{n}") for n in range(20)]
    events = [event for person in people for event in person]
    for n, event in enumerate(events):
        event["messageId"] = f"e-{n}"
    deliver(*events[: len(events) // 2])
    deliver(*events[len(events) // 2 :])
    expected = partition()
    assert len(expected) == 20

    Touchpoint.objects.all().delete()
    Identifier.objects.all().delete()
    MergeDecision.objects.all().delete()
    Profile.objects.all().delete()
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)
    for start in range(0, len(shuffled), 7):
        deliver(*shuffled[start : start + 7], source="web-again")
    assert partition() == expected


def test_unmerge_restores_the_exact_prior_state_and_blocks_the_pair(deliver):
    deliver(*journey()[:3])  # phone profile (with u-1) and laptop profile, apart
    phone, laptop = profile_of("user_id", "u-1"), profile_of("anonymous_id", "a-laptop")
    before = {
        p.pk: (
            set(Identifier.objects.filter(profile=p).values_list("id", flat=True)),
            set(Touchpoint.objects.filter(profile=p).values_list("id", flat=True)),
            Profile.objects.get(pk=p.pk).traits,
        )
        for p in (phone, laptop)
    }
    deliver(journey()[3])  # the purchase links them
    decision = MergeDecision.objects.get()
    purchase = Touchpoint.objects.get(event="Order Completed")

    unmerge(decision, decided_by="staff-ann")
    for p in (phone, laptop):
        identifiers, touchpoints, traits = before[p.pk]
        assert set(Identifier.objects.filter(profile=p).values_list("id", flat=True)) == identifiers
        assert (
            set(Touchpoint.objects.filter(profile=p).values_list("id", flat=True)) - {purchase.pk}
            == touchpoints
        )
        assert Profile.objects.get(pk=p.pk).traits == traits
        assert Profile.objects.get(pk=p.pk).merged_into is None
    decision.refresh_from_db()
    assert decision.undone_by == "staff-ann"

    # the same evidence again does not merge them back
    deliver({"type": "page", "anonymousId": "a-laptop", "userId": "u-1"})
    assert profile_of("user_id", "u-1") != profile_of("anonymous_id", "a-laptop")
    assert Refusal.objects.filter(reason="unmerged").exists()


def test_golden_record_takes_the_most_recent_value_and_says_where_it_came_from(deliver):
    deliver(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"city": "Leeds"},
            "timestamp": "2026-09-01T00:00:00Z",
        }
    )
    deliver(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"city": "York"},
            "timestamp": "2026-09-05T00:00:00Z",
        },
        source="app",
        kind="app",
    )
    deliver(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"city": "Hull"},
            "timestamp": "2026-09-03T00:00:00Z",
        }
    )
    profile = profile_of("user_id", "u-1")
    assert profile.traits["city"] == "York"
    assert profile.trait_sources["city"]["source"] == "app"


def test_identity_map_lists_every_key_a_source_sent_with_its_profile(deliver, capsys):
    from django.core.management import call_command

    deliver(*journey())
    deliver(
        {
            "type": "identify",
            "traits": {"email": "u-1@example.com"},
            "context": {"externalIds": [{"id": "C-7", "type": "crm_id"}]},
        },
        source="crm",
        kind="crm",
    )
    call_command("export_identity_map", source="crm")
    call_command("export_identity_map", source="web")
    out = capsys.readouterr().out.splitlines()
    profile = profile_of("user_id", "u-1").pk
    assert out == [
        "source,external_id,profile_id",
        f"crm,C-7,{profile}",
        "source,external_id,profile_id",
        f"web,a-laptop,{profile}",
        f"web,a-phone,{profile}",
        f"web,u-1,{profile}",
    ]


def test_profile_api_shows_merge_history_and_unmerges(deliver):
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    deliver(*journey())
    profile = profile_of("user_id", "u-1")
    staff = User.objects.create_superuser("ops", "ops@example.com", "pw")
    client = APIClient()
    client.force_authenticate(staff)
    body = client.get("/api/v1/profiles/", {"identifier": "anonymous_id:a-laptop"}).json()
    history = body["results"][0]["merge_history"]
    assert [(h["survivor"], h["method"], h["evidence"]) for h in history] == [
        (profile.pk, "identifier", {"kind": "anonymous_id", "value": "a-laptop"})
    ]
    response = client.post(f"/api/v1/merges/{history[0]['id']}/unmerge/")
    assert response.status_code == 200
    assert response.json()["undone_by"] == "ops"
    assert profile_of("anonymous_id", "a-laptop") != profile
    again = client.post(f"/api/v1/merges/{history[0]['id']}/unmerge/")
    assert again.status_code == 409 and again.json()["code"] == "merge_refused"

    reader = User.objects.create_user("analyst")
    client.force_authenticate(reader)
    assert client.post(f"/api/v1/merges/{history[0]['id']}/unmerge/").status_code == 403
