"""The predictive trait, stored: train the likelihood-to-purchase model on the
platform's own history (the facts' touch rows), keep its out-of-time evaluation with
it, and score every touched profile as the computed trait `purchase_30d`, which segment
rules, the 360° page and the profile API read like any computed trait."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from django.db import transaction

from attribution.segments.services import IN_STORE_EVENTS, conversion_event
from attribution.selectors.journeys import touch_frame
from attribution.traits import predictive
from attribution.traits.models import ComputedTrait, PredictiveModel, ProfileTraitValue

KEY = "purchase_30d"
BATCH = 5_000


def purchase_trait() -> ComputedTrait:
    trait, _ = ComputedTrait.objects.get_or_create(
        key=KEY,
        defaults={
            "name": "Likelihood to purchase in 30 days",
            "kind": ComputedTrait.Kind.PREDICTED,
        },
    )
    return trait


def train_purchase_likelihood(*, end: datetime | None = None) -> PredictiveModel:
    """Train, evaluate out of time, store the model and every profile's score."""
    event = conversion_event()
    frame = touch_frame(events=[event, *IN_STORE_EVENTS])
    if frame.empty:
        raise ValueError("history: no touchpoints to learn from")
    model, evaluation, latest = predictive.train_and_evaluate(
        frame, conversion_event=event, end=pd.Timestamp(end) if end else None
    )
    scores = model.predict_proba(latest.to_numpy())[:, 1] if len(latest) else []
    trait = purchase_trait()
    with transaction.atomic():
        ProfileTraitValue.objects.filter(trait=trait).delete()
        ProfileTraitValue.objects.bulk_create(
            [
                ProfileTraitValue(
                    trait=trait,
                    profile_id=int(pk),
                    value=round(float(score), 4),
                    number=round(float(score), 4),
                    text=f"{score:.4f}",
                )
                for pk, score in zip(latest.index, scores, strict=True)
            ],
            batch_size=BATCH,
        )
        stored = PredictiveModel.objects.create(
            trait=trait,
            end=evaluation.end.to_pydatetime(),
            train_cutoff=evaluation.train_cutoff.to_pydatetime(),
            eval_cutoff=evaluation.eval_cutoff.to_pydatetime(),
            trained_on=evaluation.trained_on,
            evaluated_on=evaluation.evaluated_on,
            base_rate=evaluation.base_rate,
            auc=evaluation.auc,
            brier=evaluation.brier,
            calibration=evaluation.calibration,
            coefficients=evaluation.coefficients,
            scored=len(latest),
        )
        ComputedTrait.objects.filter(pk=trait.pk).update(computed_at=stored.trained_at)
    return stored


def model_in_words(stored: PredictiveModel) -> str:
    auc = "n/a (one class only)" if stored.auc is None else f"{stored.auc:.3f}"
    bins = ", ".join(f"{b['predicted']:.2f}→{b['observed']:.2f}" for b in stored.calibration)
    return (
        f"likelihood to purchase in 30 days: AUC {auc} out of time (trained to "
        f"{stored.train_cutoff:%Y-%m-%d}, evaluated on {stored.evaluated_on:,} profiles "
        f"{stored.eval_cutoff:%Y-%m-%d}–{stored.end:%Y-%m-%d}, base rate "
        f"{stored.base_rate:.1%}), Brier {stored.brier:.3f}, calibration by fifth "
        f"(predicted→observed) {bins}; {stored.scored:,} profiles scored"
    )
