"""Budget advice: where next period's spend would earn the most attributed revenue.
Pure: NumPy and SciPy.

Each channel gets a diminishing-returns response curve fitted to its daily history; the
budget is then shared out to maximise the revenue the curves expect, moving each
channel's share by at most a guardrail, because the curves are only trustworthy near
the spend they were fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from attribution.engine.models import DEFAULT_GUARDRAIL

DEFAULT_ELASTICITY = 0.5  # b when a channel's history cannot be fitted: square-root returns
ELASTICITY_RANGE = (0.05, 1.0)  # b above 1 would be increasing returns: no optimum inside
MIN_FIT_DAYS = 5  # fewer days with both spend and revenue fall back to the default curve


def _curve(spend: np.ndarray, revenue: np.ndarray) -> tuple[float, float, bool]:
    """(a, b, fitted) of revenue = a * spend^b for one channel's daily history."""
    usable = (spend > 0) & (revenue > 0)
    x, y = np.log(spend[usable]), np.log(revenue[usable])
    if usable.sum() >= MIN_FIT_DAYS and np.ptp(x) > 1e-9:
        slope = np.polyfit(x, y, 1)[0]
        b = float(np.clip(slope, *ELASTICITY_RANGE))
        # The intercept that fits best for the (possibly clipped) slope; the OLS one
        # when the slope was not clipped.
        return float(np.exp(np.mean(y - b * x))), b, True
    # Through the channel's mean daily spend at its mean return on ad spend.
    b = DEFAULT_ELASTICITY
    mean_spend = spend.mean()
    roas = revenue.sum() / spend.sum()
    return float(roas * mean_spend ** (1.0 - b)), b, False


def _check(names: list[str], spend: np.ndarray, revenue: np.ndarray, guardrail: float) -> None:
    """ValueError saying what is wrong with advise's inputs."""
    if spend.ndim != 2 or spend.shape[1] != len(names) or spend.shape[0] == 0:
        raise ValueError(
            f"spend must be days x channels ({len(names)} channels), got shape {spend.shape}"
        )
    if revenue.shape != spend.shape:
        raise ValueError(f"revenue must have spend's shape {spend.shape}, got {revenue.shape}")
    if not np.isfinite(spend).all() or (spend < 0).any():
        raise ValueError("spend must be finite and not negative")
    if not np.isfinite(revenue).all() or (revenue < 0).any():
        raise ValueError("revenue must be finite and not negative")
    if not 0 <= guardrail <= 1:
        raise ValueError(f"guardrail must be a share between 0 and 1, got {guardrail}")
    if spend.sum() <= 0:
        raise ValueError("spend has no spend in any channel: nothing to advise on")


def advise(
    channels: Sequence[str],
    spend: np.ndarray,
    revenue: np.ndarray,
    *,
    budget: float | None = None,
    guardrail: float = DEFAULT_GUARDRAIL,
) -> list[dict]:
    """Proposed shares of next period's budget, one row per channel (in input order).

    Definitions:
    - `spend`, `revenue`: days x channels, daily spend and daily attributed revenue;
      the next period is as long as the history; `budget` is its total spend
      (default: the history's total, i.e. the mean daily spend times the days).
    - Response curve: daily revenue = a * daily spend^b, fitted by least squares of
      log revenue on log spend over the days where both are positive, b clipped to
      [0.05, 1]; with fewer than 5 such days or no variation in spend, b = 0.5 and a
      puts the curve through the channel's mean daily spend at its mean ROAS.
    - current_share: the channel's share of all spend over the history.
    - proposed_share: maximises expected revenue = days x sum_i a_i (s_i x budget /
      days)^b_i (scipy.optimize.minimize, SLSQP) subject to sum s_i = 1, s_i >= 0 and
      |s_i - current_share_i| <= guardrail. The curves are concave, so money moves
      toward the channels with the higher marginal ROAS until those equalise or the
      guardrail stops it.
    - marginal_roas: d revenue / d spend = a b x^(b - 1) at the current daily spend x =
      current_share x budget / days.
    - expected_revenue_current / _proposed: the curve's revenue over the period at the
      current and proposed shares; expected_effect = proposed - current.
    A channel with no spend in the history stays at 0: it has no curve to advise on.
    """
    names = list(channels)
    spend = np.asarray(spend, dtype=np.float64)
    revenue = np.asarray(revenue, dtype=np.float64)
    _check(names, spend, revenue, guardrail)
    totals = spend.sum(axis=0)
    days = spend.shape[0]
    budget = float(totals.sum()) if budget is None else float(budget)
    if not np.isfinite(budget) or budget < 0:
        raise ValueError(f"budget must be a finite amount of at least 0, got {budget}")

    current = totals / totals.sum()
    active = totals > 0
    a, b = np.zeros(len(names)), np.ones(len(names))
    fitted = np.zeros(len(names), dtype=bool)
    for i in np.flatnonzero(active):
        a[i], b[i], fitted[i] = _curve(spend[:, i], revenue[:, i])
    daily = budget / days

    def expected(shares: np.ndarray) -> np.ndarray:
        return days * a * (shares * daily) ** b

    proposed = current.copy()
    idx = np.flatnonzero(active)
    if len(idx) > 1 and budget > 0:
        ai, bi, ci = a[idx], b[idx], current[idx]
        # Scaled by the current expectation so that SLSQP's tolerances mean the same
        # for a budget of 100 and of 10 million.
        scale = max(float(expected(current)[idx].sum()), 1e-12)

        def objective(s: np.ndarray) -> tuple[float, np.ndarray]:
            s = np.maximum(s, 1e-12)  # the derivative of s^b is infinite at 0
            value = days * ai * (s * daily) ** bi
            return -value.sum() / scale, -(value * bi / s) / scale

        bounds = list(
            zip(np.maximum(ci - guardrail, 0.0), np.minimum(ci + guardrail, 1.0), strict=True)
        )
        result = minimize(
            objective,
            ci,
            jac=True,
            method="SLSQP",
            bounds=bounds,
            constraints=[{"type": "eq", "fun": lambda s: s.sum() - 1.0, "jac": np.ones_like}],
            options={"ftol": 1e-12, "maxiter": 500},
        )
        low, high = np.array(bounds).T
        candidate = proposed.copy()
        candidate[idx] = np.clip(result.x, low, high)
        candidate /= candidate.sum()
        # Never advise a move the curves expect to lose revenue on (a failed solve).
        if expected(candidate).sum() >= expected(current).sum():
            proposed = candidate

    revenue_now, revenue_next = expected(current), expected(proposed)
    safe_spend = np.where(active, current * daily, 1.0)
    marginal = a * b * safe_spend ** (b - 1.0)
    return [
        {
            "channel": names[i],
            "current_share": float(current[i]),
            "proposed_share": float(proposed[i]),
            "change_points": float((proposed[i] - current[i]) * 100.0),
            "guardrail_points": float(guardrail * 100.0),
            "marginal_roas": float(marginal[i]) if active[i] and budget > 0 else None,
            "elasticity": float(b[i]) if active[i] else None,
            "curve_fitted": bool(fitted[i]),
            "expected_revenue_current": float(revenue_now[i]),
            "expected_revenue_proposed": float(revenue_next[i]),
            "expected_effect": float(revenue_next[i] - revenue_now[i]),
        }
        for i in range(len(names))
    ]
