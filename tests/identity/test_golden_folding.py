"""Golden records folded batch by batch (stitching) equal the record rebuilt from every
touchpoint; where folding cannot stand for the history, the profile is rebuilt."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from cdp.models import Profile
from cdp.site.demo.population import generate_population, tracked_in_time_order
from identity.engine.golden import Observation, build_golden_record, standing
from identity.services import merging
from identity.services.merging import fold_into_golden_records, rebuild_golden_records

START = datetime(2026, 9, 1, tzinfo=UTC)


def observations(seed: int, n: int) -> list[Observation]:
    rng = random.Random(seed)
    return [
        Observation(
            rng.choice(["city", "plan", "email"]),
            rng.choice(["a", "b", "c", None, ""]),
            rng.choice(["crm", "pos", "web", "app"]),
            START + timedelta(minutes=minute),  # no two at the same time: no ties to break
        )
        for minute in rng.sample(range(100_000), n)
    ]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(
    "rules", [{"*": "most_recent"}, {"*": "source_priority"}, {"city": "source_priority"}]
)
def test_folding_new_observations_into_the_record_equals_building_from_all(seed, rules):
    said = observations(seed, 40)
    priority = ["pos", "crm"]
    expected = build_golden_record(said, rules=rules, source_priority=priority)
    record = ({}, {})
    for start in range(0, len(said), 7):  # batch after batch
        kept = standing(*record, rules=rules)
        assert kept is not None
        record = build_golden_record(
            [*kept, *said[start : start + 7]], rules=rules, source_priority=priority
        )
    assert record == expected


@pytest.mark.parametrize(
    "provenance, rules",
    [
        (
            {"city": {"source": "crm", "at": START.isoformat(), "rule": "most_recent"}},
            {"city": "most_frequent"},
        ),  # it counts every observation
        ({}, {"*": "most_recent"}),  # a value with no source and time
        (
            {"city": {"source": "crm", "at": START.isoformat(), "rule": "source_priority"}},
            {"*": "most_recent"},
        ),  # chosen under another rule than today's
        (
            {"city": {"source": "crm", "at": "last week", "rule": "most_recent"}},
            {"*": "most_recent"},
        ),
    ],
    ids=["most_frequent", "no provenance", "rule changed", "unreadable time"],
)
def test_a_record_that_cannot_stand_for_its_history_is_not_folded(provenance, rules):
    assert standing({"city": "Leeds"}, provenance, rules=rules) is None


@pytest.mark.django_db
def test_stitching_in_time_order_keeps_every_golden_record_as_a_rebuild_makes_it(
    deliver, tmp_path, monkeypatch
):
    generate_population(60, 5, tmp_path)
    events = tracked_in_time_order(tmp_path)
    folded: list[int] = []
    real = merging.fold_into_golden_records
    monkeypatch.setattr(
        "identity.services.stitching.fold_into_golden_records",
        lambda said: (folded.append(len(said)), real(said)),
    )
    for start in range(0, len(events), 250):  # each batch holds many people
        for name in ("web", "app", "email"):
            if batch := [e for source, e in events[start : start + 250] if source == name]:
                deliver(*batch, source=name, kind=name)
    assert sum(folded) > 50  # profiles heard from again, batch after batch
    live = Profile.objects.filter(merged_into=None)
    stitched = {p.pk: (p.traits, p.trait_sources) for p in live}
    assert sum(1 for traits, _ in stitched.values() if traits.get("email")) > 30
    rebuild_golden_records(stitched)
    assert {p.pk: (p.traits, p.trait_sources) for p in live.all()} == stitched


@pytest.mark.django_db
def test_a_profile_whose_record_cannot_be_folded_is_rebuilt_from_its_touchpoints(deliver, settings):
    deliver(
        {"type": "identify", "userId": "u-1", "traits": {"plan": "pro"}},
        {"type": "identify", "userId": "u-1", "traits": {"plan": "pro"}},
        {"type": "identify", "userId": "u-1", "traits": {"plan": "free"}},
    )
    profile = Profile.objects.get()
    Profile.objects.filter(pk=profile.pk).update(trait_sources={}, traits={"plan": "lost"})
    settings.OMNITRAIL_TRAIT_RULES = {"plan": "most_frequent"}
    fold_into_golden_records(
        {profile.pk: [Observation("plan", "free", "web", START + timedelta(days=400))]}
    )
    profile.refresh_from_db()
    assert profile.traits == {"plan": "pro"}  # counted from the touchpoints: pro twice
    assert profile.trait_sources["plan"]["rule"] == "most_frequent"
