"""The likelihood to purchase in the next 30 days: a logistic regression (scikit-learn)
over what the facts say of a profile at a moment, evaluated out of time. Pure: pandas,
NumPy, scikit-learn; no Django.

Features of a profile at a cutoff, from its touch rows up to the cutoff (the facts'
definitions, computed as of that moment): orders, log revenue, days since the last
order (365 when never, capped at 365), days since its first touch, touches in the last
30 and 90 days and in all, days since its last touch, channels seen.

Label: bought (the conversion event) in the 30 days after the cutoff.

Out of time: the model is trained with the cutoff 60 days before the end of the
history (labels: the 30 days after it) and scored with the cutoff 30 days before the
end (labels: the last 30 days, which it never saw): the AUC and the calibration
(Brier score, observed against predicted rate per fifth of the scores) are measured on
that later period. The model then served is refit with the later cutoff and scores
every profile as of the end of the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HORIZON = pd.Timedelta(days=30)
FEATURES = (
    "orders",
    "log_revenue",
    "days_since_last_order",
    "tenure_days",
    "touches_30d",
    "touches_90d",
    "touches",
    "days_since_last_touch",
    "channels",
)


@dataclass
class Evaluation:
    """What the out-of-time test measured, stored with the model."""

    train_cutoff: pd.Timestamp
    eval_cutoff: pd.Timestamp
    end: pd.Timestamp
    trained_on: int
    evaluated_on: int
    base_rate: float
    auc: float | None  # None when the evaluation period has only one class
    brier: float
    calibration: list[dict[str, float]] = field(default_factory=list)
    coefficients: dict[str, float] = field(default_factory=dict)


def features(frame: pd.DataFrame, cutoff: pd.Timestamp, conversion_event: str) -> pd.DataFrame:
    """One row per profile touched up to `cutoff` (index profile_id), the FEATURES."""
    seen = frame[frame["timestamp"] <= cutoff]
    if seen.empty:
        return pd.DataFrame(columns=list(FEATURES), dtype=float)
    by = seen.groupby("profile_id", sort=True)
    orders = seen[seen["event"].astype(str) == conversion_event].groupby("profile_id")
    days = lambda moments: (cutoff - moments).dt.total_seconds() / 86_400  # noqa: E731
    out = pd.DataFrame(
        {
            "touches": by.size().astype(float),
            "tenure_days": days(by["timestamp"].min()),
            "days_since_last_touch": days(by["timestamp"].max()),
            "channels": by["channel"].nunique().astype(float),
        }
    )
    for window, name in ((30, "touches_30d"), (90, "touches_90d")):
        recent = seen[seen["timestamp"] > cutoff - pd.Timedelta(days=window)]
        out[name] = recent.groupby("profile_id").size().reindex(out.index, fill_value=0)
    out["orders"] = orders.size().reindex(out.index, fill_value=0).astype(float)
    revenue = orders["revenue"].sum().reindex(out.index, fill_value=0.0)
    out["log_revenue"] = np.log1p(revenue.clip(lower=0).astype(float))
    last_order = days(orders["timestamp"].max()).reindex(out.index)
    out["days_since_last_order"] = last_order.fillna(365.0).clip(upper=365.0)
    return out[list(FEATURES)].astype(float)


def labels(
    frame: pd.DataFrame, index: pd.Index, start: pd.Timestamp, conversion_event: str
) -> np.ndarray:
    """1 for the profiles of `index` that bought in (start, start + 30 days]."""
    window = frame[
        (frame["timestamp"] > start)
        & (frame["timestamp"] <= start + HORIZON)
        & (frame["event"].astype(str) == conversion_event)
    ]
    return np.isin(index.to_numpy(), window["profile_id"].unique()).astype(int)


def _fit(x: pd.DataFrame, y: np.ndarray) -> Any:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
    if len(set(y.tolist())) < 2:
        raise ValueError("history: the training period needs buyers and non-buyers")
    model.fit(x.to_numpy(), y)
    return model


def calibration(y: np.ndarray, scores: np.ndarray, bins: int = 5) -> list[dict[str, float]]:
    """Per fifth of the scores (by rank): the mean predicted and the observed rate."""
    order = np.argsort(scores, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if len(part):
            out.append(
                {
                    "profiles": float(len(part)),
                    "predicted": round(float(scores[part].mean()), 4),
                    "observed": round(float(y[part].mean()), 4),
                }
            )
    return out


def train_and_evaluate(
    frame: pd.DataFrame, *, conversion_event: str, end: pd.Timestamp | None = None
) -> tuple[Any, Evaluation, pd.DataFrame]:
    """The out-of-time evaluation, then the model refit on the latest period; returns
    (model, evaluation, the features of every profile as of `end`)."""
    end = end if end is not None else frame["timestamp"].max()
    eval_cutoff, train_cutoff = end - HORIZON, end - 2 * HORIZON
    x_train = features(frame, train_cutoff, conversion_event)
    y_train = labels(frame, x_train.index, train_cutoff, conversion_event)
    x_eval = features(frame, eval_cutoff, conversion_event)
    y_eval = labels(frame, x_eval.index, eval_cutoff, conversion_event)
    first = _fit(x_train, y_train)
    scores = first.predict_proba(x_eval.to_numpy())[:, 1]
    auc = float(roc_auc_score(y_eval, scores)) if len(set(y_eval.tolist())) == 2 else None
    served = _fit(x_eval, y_eval)
    regression = served[-1]
    evaluation = Evaluation(
        train_cutoff=train_cutoff,
        eval_cutoff=eval_cutoff,
        end=end,
        trained_on=len(x_train),
        evaluated_on=len(x_eval),
        base_rate=round(float(y_eval.mean()), 4) if len(y_eval) else 0.0,
        auc=round(auc, 4) if auc is not None else None,
        brier=round(float(brier_score_loss(y_eval, scores)), 4),
        calibration=calibration(y_eval, scores),
        coefficients={
            name: round(float(c), 4) for name, c in zip(FEATURES, regression.coef_[0], strict=True)
        },
    )
    return served, evaluation, features(frame, end, conversion_event)
