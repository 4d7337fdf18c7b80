"""Profile facts (channels, value, RFM, CLV, persona, best time to contact): computed
from the touchpoints for every profile at once, or anew for the profiles that changed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from attribution.engine import facts as engine
from attribution.engine.models import DEFAULT_GOAL
from attribution.models import FactsModel, Goal, ProfileChannel, ProfileFacts
from attribution.selectors.journeys import touch_frame
from cdp.engine.batches import id_batches
from cdp.services.bulk import copy_rows

# Visits to a store count as touches of the In-store channel.
IN_STORE_EVENTS = ("Store Visit", "In-Store Visit", "Store Checked In")
FACT_COLUMNS = (
    "first_touch_channel",
    "last_touch_channel",
    "last_touch_campaign",
    "channel_count",
    "total_revenue",
    "order_count",
    "first_order_at",
    "last_order_at",
    "clv",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_score",
    "persona",
    "best_hour_of_week",
    "best_contact_channel",
)


def conversion_event() -> str:
    """Facts count orders as the default goal (purchase) does."""
    goal = Goal.objects.filter(key=DEFAULT_GOAL).first()
    return goal.event if goal else "Order Completed"


def refresh_facts(profile_ids: Iterable[int] | None = None, *, now: datetime | None = None) -> int:
    """Recompute the facts of `profile_ids` (all profiles when None: that also learns
    the RFM edges and the personas anew). Returns how many profiles have facts."""
    now = now or timezone.now()
    ids = None if profile_ids is None else sorted(set(profile_ids))
    event = conversion_event()
    frame = touch_frame(profile_ids=ids, events=[event, *IN_STORE_EVENTS])
    learnt = None if ids is None else _latest_model()
    facts, channels, model = engine.compute(
        frame, conversion_event=event, now=pd.Timestamp(now), model=learnt
    )
    with transaction.atomic():
        if ids is None:
            ProfileFacts.objects.all().delete()
            ProfileChannel.objects.all().delete()
            FactsModel.objects.create(
                rfm_edges=model.rfm_edges, personas=model.personas, features=model.features
            )
        else:
            for chunk in id_batches(ids):
                ProfileFacts.objects.filter(profile_id__in=chunk).delete()
                ProfileChannel.objects.filter(profile_id__in=chunk).delete()
        _insert(ProfileFacts, _fact_rows(facts, now))
        _insert(
            ProfileChannel,
            [
                {"profile_id": int(p), "channel": c, "touches": int(n)}
                for p, c, n in channels[["profile_id", "channel", "touches"]].itertuples(
                    index=False
                )
            ],
        )
    return len(facts)


def _latest_model() -> engine.FactsModel | None:
    stored = FactsModel.objects.order_by("-computed_at", "-pk").first()
    if stored is None:
        return None
    return engine.FactsModel(
        rfm_edges=stored.rfm_edges, personas=stored.personas, features=stored.features
    )


def _fact_rows(facts: pd.DataFrame, now: datetime) -> list[dict]:
    table = facts.reindex(columns=list(FACT_COLUMNS))
    rows = []
    columns = {name: table[name].to_numpy() for name in FACT_COLUMNS}
    for i, profile_id in enumerate(table.index.to_numpy()):
        row = {"profile_id": int(profile_id), "updated_at": now}
        for name, values in columns.items():
            row[name] = _plain(values[i])
        rows.append(row)
    return rows


def _plain(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value, tz="UTC").to_pydatetime()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _insert(model, rows: list[dict]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        copy_rows(model, rows)
    else:
        model.objects.bulk_create([model(**row) for row in rows], batch_size=2_000)
