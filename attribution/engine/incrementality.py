"""Incrementality: holding profiles out of a channel or campaign, and the lift it showed.
Pure: NumPy and statsmodels.

A holdout is a random share of profiles that an experiment does not contact. Comparing
the conversion rate of the exposed profiles with that of the holdout measures what the
contact added, which attribution models (that only share out conversions that
happened) cannot.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import Any

import numpy as np
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection of uint64 that spreads every input bit."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def holdout_mask(profile_ids: np.ndarray, key: str, percent: float) -> np.ndarray:
    """Which profiles are in the holdout of the experiment `key` (e.g. "channel:Email",
    "campaign:spring-sale"): about `percent`% of them, chosen at random but stably.

    Definition: h = splitmix64(splitmix64(id) XOR blake2b-64(key)); the profile is held
    out when h / 2^64 < percent / 100. The same (key, id) is always in or always out,
    in any process and any order of ids, and no earlier draw has to be stored; a
    different key draws an independent group, so one profile is not held out of
    everything. `profile_ids` are integer profile primary keys."""
    ids = np.asarray(profile_ids)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"profile_ids must be integers, got dtype {ids.dtype}")
    if not isinstance(key, str) or not key:
        raise ValueError("key must be a non-empty string naming the experiment")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be between 0 and 100, got {percent}")
    salt = np.uint64(
        int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    )
    # Negative ids wrap to large unsigned values: still one distinct input per id.
    h = _splitmix64(_splitmix64(ids.astype(np.uint64)) ^ salt)
    # The top 53 bits as a float in [0, 1): exact, so percent=100 holds out everyone.
    uniform = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return uniform < percent / 100.0


def _count(name: str, value: float) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise ValueError(f"{name} must be a whole number of at least 0, got {value}")
    return int(value)


def _plain(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def lift(
    exposed_conversions: int,
    exposed_total: int,
    holdout_conversions: int,
    holdout_total: int,
    *,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """How much more the exposed group converted than the holdout, with intervals.

    Definitions (p_e, p_h: the conversion rates of the exposed group and the holdout):
    - difference = p_e - p_h, interval by Newcombe's hybrid score method;
    - relative_lift = p_e / p_h - 1, interval by the log-adjusted rate-ratio method
      (None when p_h = 0: no baseline to be relative to);
    - p_value: two-sided test of p_e = p_h (Agresti-Caffo);
    - incremental_conversions = exposed_total x difference, the conversions the contact
      added, with the difference's interval scaled likewise.
    Intervals and the test are statsmodels' confint_proportions_2indep and
    test_proportions_2indep."""
    ec = _count("exposed_conversions", exposed_conversions)
    et = _count("exposed_total", exposed_total)
    hc = _count("holdout_conversions", holdout_conversions)
    ht = _count("holdout_total", holdout_total)
    if et == 0:
        raise ValueError("exposed_total must be at least 1: the exposed group is empty")
    if ht == 0:
        raise ValueError("holdout_total must be at least 1: the holdout is empty")
    if ec > et:
        raise ValueError(f"exposed_conversions ({ec}) exceeds exposed_total ({et})")
    if hc > ht:
        raise ValueError(f"holdout_conversions ({hc}) exceeds holdout_total ({ht})")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")

    alpha = 1.0 - confidence
    exposed_rate, holdout_rate = ec / et, hc / ht
    difference = exposed_rate - holdout_rate
    # statsmodels warns on 0/0 for its own ratio statistics at the edges (no conversions
    # in either group); the figures we read stay defined there.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        diff_low, diff_high = confint_proportions_2indep(
            ec, et, hc, ht, compare="diff", method="newcomb", alpha=alpha
        )
        p_value = test_proportions_2indep(
            ec, et, hc, ht, compare="diff", method="agresti-caffo"
        ).pvalue
        if hc > 0:
            ratio_low, ratio_high = confint_proportions_2indep(
                ec, et, hc, ht, compare="ratio", method="log-adjusted", alpha=alpha
            )
    relative = (
        (exposed_rate / holdout_rate - 1.0, _plain(ratio_low - 1.0), _plain(ratio_high - 1.0))
        if hc > 0
        else (None, None, None)
    )
    return {
        "exposed_rate": exposed_rate,
        "holdout_rate": holdout_rate,
        "difference": difference,
        "difference_low": _plain(diff_low),
        "difference_high": _plain(diff_high),
        "relative_lift": relative[0],
        "relative_lift_low": relative[1],
        "relative_lift_high": relative[2],
        "p_value": _plain(p_value),
        "incremental_conversions": et * difference,
        "incremental_conversions_low": _plain(et * diff_low),
        "incremental_conversions_high": _plain(et * diff_high),
        "confidence": confidence,
    }
