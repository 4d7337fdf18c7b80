"""Path reports over journeys: top conversion paths, path length, time to convert,
assisted versus last-touch conversions, and the Pareto view. Pure: NumPy only."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from attribution.engine.journeys import Journeys

DAY = 86_400.0


def _converting(journeys: Journeys) -> np.ndarray:
    return np.flatnonzero(journeys.converted & (journeys.lengths > 0))


def top_paths(journeys: Journeys, *, limit: int = 10) -> list[dict[str, Any]]:
    """The most common paths to conversion, with how many conversions and how much
    value each brought; repeated touches of one channel in a row count once
    ("Email > Email > Direct" is "Email > Direct")."""
    counts: Counter[str] = Counter()
    values: defaultdict[str, float] = defaultdict(float)
    names = journeys.channels
    for i in _converting(journeys):
        touches = journeys.touches[journeys.offsets[i] : journeys.offsets[i + 1]]
        keep = np.concatenate([[True], touches[1:] != touches[:-1]])
        path = " > ".join(names[c] for c in touches[keep])
        counts[path] += 1
        values[path] += float(journeys.value[i])
    return [
        {"path": path, "conversions": count, "value": round(values[path], 2)}
        for path, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    ]


def path_lengths(journeys: Journeys) -> dict[str, Any]:
    """How many touches converting journeys had: the distribution and the mean."""
    lengths = journeys.lengths[_converting(journeys)]
    if not len(lengths):
        return {"distribution": {}, "mean": None}
    found, count = np.unique(lengths, return_counts=True)
    return {
        "distribution": {int(k): int(v) for k, v in zip(found, count, strict=True)},
        "mean": round(float(lengths.mean()), 3),
    }


def time_to_convert(journeys: Journeys) -> dict[str, Any]:
    """Days from a converting journey's first touch to its conversion: summary figures
    and how many conversions took each whole number of days."""
    converting = _converting(journeys)
    if not len(converting):
        return {"median_days": None, "mean_days": None, "p90_days": None, "distribution": {}}
    first_age = journeys.ages[journeys.offsets[converting]] / DAY
    # Conversions by whole days taken (0 = the same day): the histogram's bars.
    days, counts = np.unique(np.floor(first_age).astype(np.int64), return_counts=True)
    return {
        "median_days": round(float(np.median(first_age)), 3),
        "mean_days": round(float(first_age.mean()), 3),
        "p90_days": round(float(np.percentile(first_age, 90)), 3),
        "distribution": {int(d): int(c) for d, c in zip(days, counts, strict=True)},
    }


def assisted_conversions(journeys: Journeys) -> list[dict[str, Any]]:
    """Per channel: conversions it closed (the last touch) and conversions it assisted
    (present earlier in the journey but not last), and the ratio of the two."""
    n = len(journeys.channels)
    last = np.zeros(n, dtype=np.int64)
    assisted = np.zeros(n, dtype=np.int64)
    for i in _converting(journeys):
        touches = journeys.touches[journeys.offsets[i] : journeys.offsets[i + 1]]
        closer = touches[-1]
        last[closer] += 1
        helpers = np.unique(touches[:-1])
        assisted[helpers[helpers != closer]] += 1
    return [
        {
            "channel": journeys.channels[c],
            "last_touch_conversions": int(last[c]),
            "assisted_conversions": int(assisted[c]),
            "assisted_per_last_touch": round(assisted[c] / last[c], 3) if last[c] else None,
        }
        for c in sorted(range(n), key=lambda c: (-(last[c] + assisted[c]), journeys.channels[c]))
    ]


def pareto(
    rows: Sequence[Mapping[str, Any]], *, key: str = "revenue", share: float = 0.8
) -> dict[str, Any]:
    """Which rows (channels or campaigns, largest first) bring `share` of the total:
    each row's share and cumulative share, and how many rows make up that share."""
    ordered = sorted(rows, key=lambda row: -float(row[key]))
    total = sum(float(row[key]) for row in ordered)
    running, out, needed = 0.0, [], None
    for position, row in enumerate(ordered, start=1):
        running += float(row[key])
        cumulative = running / total if total else 0.0
        out.append({**row, "share": round(float(row[key]) / total, 4) if total else 0.0,
                    "cumulative_share": round(cumulative, 4)})  # fmt: skip
        if needed is None and cumulative >= share - 1e-12:
            needed = position
    return {
        "rows": out,
        "rows_for_share": needed,
        "share_of_rows": round(needed / len(ordered), 4) if needed else None,
    }
