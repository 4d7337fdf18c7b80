"""Merges of a stitched batch, set-based (merge_in_order): the same decisions, snapshots
and moves as merging one by one, so every one of them can be undone exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cdp.models import Profile, Touchpoint
from identity.errors import MergeRefused
from identity.models import Identifier, MergeBlock, MergeDecision
from identity.services.merging import merge_in_order, merge_profiles, unmerge
from tests.factories import ProfileFactory, SourceFactory, TouchpointFactory

pytestmark = pytest.mark.django_db
AT = datetime(2026, 9, 1, tzinfo=UTC)


def _people(names):
    source = SourceFactory()
    profiles = {}
    for name in names:
        profile = ProfileFactory(traits={"first_name": name})
        Identifier.objects.create(
            kind="anonymous_id", value=f"a-{name}", profile=profile, first_seen=AT, last_seen=AT
        )
        TouchpointFactory(source=source, profile=profile, anonymous_id=f"a-{name}")
        profiles[name] = profile.pk
    return profiles


def _state():
    return (
        sorted(Identifier.objects.values_list("value", "profile_id")),
        sorted(Touchpoint.objects.values_list("anonymous_id", "profile_id")),
        sorted(Profile.objects.values_list("pk", "merged_into_id")),
        [
            (d.survivor_id, d.merged_id, sorted(d.snapshot["identifiers"]), d.snapshot["traits"])
            for d in MergeDecision.objects.order_by("created_at", "id")
        ],
    )


def _chain(p):
    # b and c into a, then a (with them) into d.
    return [(p["a"], p["b"], {"n": 1}), (p["a"], p["c"], {"n": 2}), (p["d"], p["a"], {"n": 3})]


def test_merging_a_batch_at_once_is_merging_one_by_one():
    p = _people("abcd")
    for survivor, merged, evidence in _chain(p):
        merge_profiles(survivor, merged, method="identifier", evidence=evidence, rebuild=False)
    one_by_one = _state()
    for model in (MergeDecision, Touchpoint, Identifier, Profile):
        model.objects.all().delete()

    p = _people("abcd")
    decisions = merge_in_order(_chain(p), method="identifier")

    # Same rows (profile ids differ between the two runs: compared by creation order).
    old_pks = [pk for pk, _ in one_by_one[2]]  # sorted: a, b, c, d as created
    order = dict(zip(old_pks, sorted(p.values()), strict=True))

    def renamed(state):
        ids, tps, profiles, made = state
        return (
            [(v, order[pk]) for v, pk in ids],
            [(v, order[pk]) for v, pk in tps],
            [(order[pk], order.get(into)) for pk, into in profiles],
            [(order[s], order[m], len(snap), traits) for s, m, snap, traits in made],
        )

    now = _state()
    expected = renamed(one_by_one)
    assert expected[:3] == (now[0], now[1], now[2])
    assert expected[3] == [(s, m, len(snap), t) for s, m, snap, t in now[3]]
    assert [d.evidence for d in decisions] == [{"n": 1}, {"n": 2}, {"n": 3}]
    # The last decision's snapshot holds what a had gathered: b's and c's too.
    assert len(MergeDecision.objects.get(merged_id=p["a"]).snapshot["touchpoints"]) == 3


def test_a_batch_merge_is_undone_last_first_and_exactly():
    p = _people("abcd")
    merge_in_order(_chain(p), method="identifier")
    first = MergeDecision.objects.get(merged_id=p["b"])
    with pytest.raises(MergeRefused):  # a moved on into d afterwards
        unmerge(first, decided_by="ops")

    unmerge(MergeDecision.objects.get(merged_id=p["a"]), decided_by="ops")
    unmerge(first, decided_by="ops")

    assert Identifier.objects.get(value="a-b").profile_id == p["b"]
    assert Identifier.objects.get(value="a-a").profile_id == p["a"]
    assert Identifier.objects.get(value="a-c").profile_id == p["a"]  # c's merge stands
    assert Touchpoint.objects.get(anonymous_id="a-d").profile_id == p["d"]


def test_a_pair_staff_separated_is_refused():
    p = _people("ab")
    low, high = sorted(p.values())
    MergeBlock.objects.create(low_id=low, high_id=high)
    with pytest.raises(MergeRefused):
        merge_in_order([(p["a"], p["b"], {})], method="identifier")
    assert not MergeDecision.objects.exists()
