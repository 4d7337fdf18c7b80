"""Profile facts computed a chunk of profiles at a time give what one pass over the whole
population gives (the RFM edges and personas included), and bots' and crawlers' events
are left out of facts, computed traits and segment event rules unless
OMNITRAIL_SEGMENT_BOTS."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from attribution.models import FactsModel, ProfileChannel, ProfileFacts
from attribution.segments import facts as facts_engine
from attribution.segments import services
from attribution.segments.services import (
    IN_STORE_EVENTS,
    refresh_facts,
    refresh_segment,
    save_segment,
)
from attribution.selectors.journeys import touch_frame
from attribution.traits.models import ComputedTrait, ProfileTraitValue
from consent.selectors import profile_by_identifier

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)
CAMPAIGNS = [
    {"source": "newsletter", "medium": "email", "name": "spring"},
    {"source": "google", "medium": "cpc", "name": "brand"},
    {"source": "facebook", "medium": "paid_social", "name": "retarget"},
    {},
]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


@pytest.fixture
def population(deliver):
    """60 shoppers (seeded): visits from one of four campaigns, 0-4 orders of 10-300."""
    rng = np.random.default_rng(7)
    events = []
    for n in range(60):
        user = f"u{n}"
        for _ in range(int(rng.integers(1, 4))):
            campaign = CAMPAIGNS[int(rng.integers(0, 4))]
            events.append({"type": "page", "userId": user, "timestamp": ago(rng.uniform(1, 200)),
                           "context": {"campaign": campaign}})  # fmt: skip
        for _ in range(int(rng.integers(0, 5))):
            revenue = round(float(rng.uniform(10, 300)), 2)
            events.append({"type": "track", "event": "Order Completed", "userId": user,
                           "timestamp": ago(rng.uniform(0, 150)),
                           "properties": {"revenue": revenue}})  # fmt: skip
    deliver(*events)


def snapshot() -> tuple[list, list, dict]:
    facts = sorted(
        tuple(row.values())
        for row in ProfileFacts.objects.values(*services.FACT_COLUMNS, "profile_id")
    )
    channels = sorted(ProfileChannel.objects.values_list("profile_id", "channel", "touches"))
    model = FactsModel.objects.order_by("-pk").first()
    return facts, channels, {"edges": model.rfm_edges, "personas": model.personas}


def test_chunks_give_what_one_pass_gives(population, monkeypatch):
    assert refresh_facts(now=NOW) == 60
    whole = snapshot()
    monkeypatch.setattr(services, "FACTS_CHUNK", 7)  # nine chunks of 7 profiles
    assert refresh_facts(now=NOW) == 60
    assert snapshot() == whole
    # ... and what the engine gives over every touch row in one frame (as before chunks)
    event = services.conversion_event()
    facts, channels, model = facts_engine.compute(
        touch_frame(events=[event, *IN_STORE_EVENTS]), conversion_event=event,
        now=pd.Timestamp(NOW),
    )  # fmt: skip
    assert model.rfm_edges == whole[2]["edges"]
    assert model.personas == whole[2]["personas"]
    assert len(model.personas) == 4 and sum(p["size"] for p in model.personas) == 60
    stored = {row[-1]: row[:-1] for row in whole[0]}
    for pk, row in facts.iterrows():
        assert stored[pk][services.FACT_COLUMNS.index("rfm_score")] == row["rfm_score"]
        assert stored[pk][services.FACT_COLUMNS.index("persona")] == row["persona"]
        assert stored[pk][services.FACT_COLUMNS.index("order_count")] == row["order_count"]
    # Incremental, in chunks too: the stored model applied, the same facts.
    ids = [pk for pk in stored][:20]
    assert refresh_facts(ids, now=NOW) == 20
    assert snapshot()[0] == whole[0]


def test_a_sample_teaches_the_model_above_the_cap(population, monkeypatch):
    monkeypatch.setattr(facts_engine, "LEARN_FROM", 45)
    monkeypatch.setattr(services, "FACTS_CHUNK", 10)
    assert refresh_facts(now=NOW) == 60
    personas = FactsModel.objects.order_by("-pk").first().personas
    # Sizes estimated for the whole population from the sample's (about 45 of 60).
    assert abs(sum(p["size"] for p in personas) - 60) <= 2
    assert all(p["description"].startswith("about ") for p in personas)
    labels = {p["label"] for p in personas}
    assert set(ProfileFacts.objects.values_list("persona", flat=True)) <= labels


@pytest.fixture
def crawled(deliver):
    """ann: one visit from a browser and two orders, one of them sent by Googlebot."""
    deliver(
        {"type": "page", "userId": "ann", "timestamp": ago(10),
         "context": {"campaign": CAMPAIGNS[0]}},
        {"type": "track", "event": "Order Completed", "userId": "ann", "timestamp": ago(5),
         "properties": {"revenue": 40}},
        {"type": "track", "event": "Order Completed", "userId": "ann", "timestamp": ago(4),
         "properties": {"revenue": 60}, "context": {"userAgent": GOOGLEBOT}},
    )  # fmt: skip
    ComputedTrait.objects.create(key="orders", name="orders", kind="count", event="Order Completed")
    return profile_by_identifier("user_id:ann").pk


def test_bots_are_left_out_of_facts_traits_and_segments(crawled):
    refresh_facts(now=NOW)
    facts = ProfileFacts.objects.get(profile_id=crawled)
    assert (facts.order_count, facts.total_revenue) == (1, 40.0)
    assert ProfileTraitValue.objects.get(profile_id=crawled).value == 1
    assert FactsModel.objects.order_by("-pk").first().features["bot_touches_left_out"] == 1
    twice = save_segment(name="twice", definition={"event": "Order Completed", "at_least": 2})
    assert refresh_segment(twice).size == 0


def test_a_setting_counts_them(crawled, settings):
    settings.OMNITRAIL_SEGMENT_BOTS = True
    refresh_facts(now=NOW)
    facts = ProfileFacts.objects.get(profile_id=crawled)
    assert (facts.order_count, facts.total_revenue) == (2, 100.0)
    assert ProfileTraitValue.objects.get(profile_id=crawled).value == 2
    assert FactsModel.objects.order_by("-pk").first().features["bot_touches_left_out"] == 0
    twice = save_segment(name="twice", definition={"event": "Order Completed", "at_least": 2})
    assert refresh_segment(twice).size == 1
