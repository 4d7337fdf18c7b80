"""Budget advice: how next period's paid budget would earn the most attributed revenue,
in money and in shares, with the expected change and how sure the fit is of it.
Pure: NumPy, SciPy and statsmodels.

Only channels with spend in the history are reallocated: a channel that cost nothing
(owned and organic: email sent at no recorded cost, organic search, direct, in-store)
has no response of revenue to spend to learn from, so it never receives budget and is
returned apart, as context. Each paid channel gets a diminishing-returns response curve
fitted to its daily history; the budget is then shared out to maximise the revenue the
curves expect, moving each channel's share by at most a guardrail, because the curves
are only trustworthy near the spend they were fitted on. A curve the history could not
fit (too few days, spend that never varied, or a fitted elasticity outside the range
that makes sense) is reported as "assumed", with the reason, so the advice says which
money moves on evidence and which on an assumption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy.optimize import minimize
from scipy.stats import norm

from attribution.engine.models import DEFAULT_GUARDRAIL

DEFAULT_ELASTICITY = 0.5  # b when a channel's history cannot be fitted: square-root returns
ELASTICITY_RANGE = (0.05, 1.0)  # b above 1 would be increasing returns: no optimum inside
MIN_FIT_DAYS = 5  # fewer days with both spend and revenue fall back to the default curve
INTERVAL_LEVEL = 0.95  # of the expected revenue change
BOUND_TOLERANCE = 1e-9  # a fitted elasticity this close to a bound is on it, not past it

FITTED = "fitted"
ASSUMED = "assumed"


@dataclass(frozen=True)
class Curve:
    """Daily revenue = a * daily spend^b for one channel, and how it was found.

    `covariance` is that of (log a, b): from the regression when fitted; when b is
    assumed only log a is uncertain (b's row and column are 0)."""

    a: float
    b: float
    curve: str  # FITTED or ASSUMED
    reason: str | None  # why assumed; None when fitted
    days: int  # days with both spend and revenue
    covariance: np.ndarray
    uncertain: bool  # whether the history says how uncertain the curve is (2+ days)


@dataclass(frozen=True)
class BudgetAdvice:
    """Next period's paid budget, channel by channel, and what the curves expect of it."""

    budget: float  # next period's paid budget (money)
    days: int  # the period's length: the history's
    rows: list[dict[str, Any]]  # one per channel with spend, in input order (see `budget_advice`)
    context: list[dict[str, Any]]  # one per channel without spend: never reallocated
    expected_revenue_current: float  # over the paid channels, at the current split
    expected_revenue_proposed: float
    expected_effect: float  # proposed - current
    effect_interval: tuple[float, float] | None  # INTERVAL_LEVEL interval of the effect
    interval_note: str  # how the interval was made, and which channels it leaves out


def fit_curve(spend: np.ndarray, revenue: np.ndarray) -> Curve:
    """The response curve of one channel's daily history (spend > 0 on some day).

    Fitted: least squares of log revenue on log spend (statsmodels OLS) over the days
    where both are positive, when there are at least MIN_FIT_DAYS of them, spend varied
    and the slope b lies within ELASTICITY_RANGE. Otherwise assumed: a slope outside the
    range is replaced by the nearest bound and a refitted for it (log a = mean of log
    revenue - b log spend); with too few days or no variation in spend, b =
    DEFAULT_ELASTICITY and a puts the curve through the channel's mean daily spend at its
    mean return on ad spend."""
    usable = (spend > 0) & (revenue > 0)
    days = int(usable.sum())
    x, y = np.log(spend[usable]), np.log(revenue[usable])
    varied = days > 0 and np.ptp(x) > 1e-9
    if days >= MIN_FIT_DAYS and varied:
        fit = sm.OLS(y, sm.add_constant(x)).fit()
        intercept, slope = (float(p) for p in fit.params)
        low, high = ELASTICITY_RANGE
        # A bound hit only by rounding (an exactly linear history) is still a fit.
        if low - BOUND_TOLERANCE <= slope <= high + BOUND_TOLERANCE:
            return Curve(
                a=float(np.exp(intercept)),
                b=float(np.clip(slope, low, high)),
                curve=FITTED,
                reason=None,
                days=days,
                covariance=np.asarray(fit.cov_params(), dtype=np.float64),
                uncertain=True,
            )
        b = low if slope < low else high
        side = "below" if slope < low else "above"
        level, variance = _level(x, y, b)
        return Curve(
            a=float(np.exp(level)),
            b=b,
            curve=ASSUMED,
            reason=f"fitted elasticity {slope:.3g} is {side} the range {low:g}-{high:g}; "
            f"{b:g} assumed",
            days=days,
            covariance=np.diag([variance, 0.0]),
            uncertain=True,
        )
    b = DEFAULT_ELASTICITY
    if days >= MIN_FIT_DAYS:
        reason = f"spend never varied; elasticity {b:g} assumed"
    else:
        reason = (
            f"only {days} day{'' if days == 1 else 's'} with both spend and revenue "
            f"(a fit needs {MIN_FIT_DAYS}); elasticity {b:g} assumed"
        )
    roas = revenue.sum() / spend.sum()
    a = float(roas * spend.mean() ** (1.0 - b))
    variance = _level(x, y, b)[1] if days >= 2 else 0.0
    return Curve(
        a=a,
        b=b,
        curve=ASSUMED,
        reason=reason,
        days=days,
        covariance=np.diag([variance, 0.0]),
        uncertain=days >= 2,
    )


def _level(x: np.ndarray, y: np.ndarray, b: float) -> tuple[float, float]:
    """log a for a given b (the mean of y - b x) and its variance (residual variance / n)."""
    rest = y - b * x
    variance = float(rest.var(ddof=1) / len(rest)) if len(rest) >= 2 else 0.0
    return float(rest.mean()), variance


def budget_advice(
    channels: Sequence[str],
    spend: np.ndarray,
    revenue: np.ndarray,
    *,
    budget: float | None = None,
    guardrail: float = DEFAULT_GUARDRAIL,
) -> BudgetAdvice:
    """Next period's paid budget per channel, in money and shares.

    Definitions:
    - `spend`, `revenue`: days x channels, daily spend and daily attributed revenue;
      the next period is as long as the history; `budget` is its total paid spend
      (default: the history's total, i.e. the mean daily spend times the days).
    - Paid channels: those with spend in the history; the others are `context` rows
      (channel, revenue credited over the history, reason) and receive nothing.
    - Response curve per paid channel: `fit_curve` (curve "fitted" or "assumed", with
      the reason).
    - current_share: the channel's share of all spend over the history; current_budget =
      current_share x budget.
    - proposed_share: maximises expected revenue = days x sum_i a_i (s_i x budget /
      days)^b_i (scipy.optimize.minimize, SLSQP) subject to sum s_i = 1, s_i >= 0 and
      |s_i - current_share_i| <= guardrail. The curves are concave, so money moves
      toward the channels with the higher marginal ROAS until those equalise or the
      guardrail stops it. proposed_budget = proposed_share x budget (the proposed
      budgets sum to `budget`); change_budget = proposed - current.
    - marginal_roas: d revenue / d spend = a b x^(b - 1) at the current daily spend x =
      current_share x budget / days.
    - expected_revenue_current / _proposed: the curve's revenue over the period at the
      current and proposed shares; expected_effect = proposed - current.
    - effect_interval (per row: effect_low, effect_high): the INTERVAL_LEVEL interval of
      expected_effect from the fit, by the delta method: the effect's gradient in
      (log a, b) times the fit's covariance (the OLS covariance of intercept and slope
      for a fitted curve; for an assumed one only log a is uncertain, by the residual
      variance of log revenue - b log spend over its days / their number), normal
      quantiles; channels' fits are independent, so variances add up for the total.
      A channel with fewer than 2 usable days has no interval (None) and is named in
      `interval_note`.
    """
    names = list(channels)
    spend = np.asarray(spend, dtype=np.float64)
    revenue = np.asarray(revenue, dtype=np.float64)
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
    totals = spend.sum(axis=0)
    if totals.sum() <= 0:
        raise ValueError("spend has no spend in any channel: nothing to advise on")
    days = spend.shape[0]
    budget = float(totals.sum()) if budget is None else float(budget)
    if not np.isfinite(budget) or budget < 0:
        raise ValueError(f"budget must be a finite amount of at least 0, got {budget}")

    paid = np.flatnonzero(totals > 0)
    curves = [fit_curve(spend[:, i], revenue[:, i]) for i in paid]
    a = np.array([c.a for c in curves])
    b = np.array([c.b for c in curves])
    current = totals[paid] / totals.sum()
    daily = budget / days
    proposed = _proposed_shares(a, b, current, days=days, daily=daily, guardrail=guardrail)

    now, then = current * daily, proposed * daily
    revenue_now, revenue_next = days * a * now**b, days * a * then**b
    effect = revenue_next - revenue_now
    variance = np.array(
        [
            _effect_variance(curve, days=days, now=x0, then=x1)
            for curve, x0, x1 in zip(curves, now, then, strict=True)
        ]
    )
    spread = norm.ppf(0.5 + INTERVAL_LEVEL / 2) * np.sqrt(variance)
    marginal = a * b * np.where(now > 0, now, 1.0) ** (b - 1.0)
    rows = []
    for k, i in enumerate(paid):
        curve = curves[k]
        rows.append(
            {
                "channel": names[i],
                "spend_history": float(totals[i]),
                "current_share": float(current[k]),
                "proposed_share": float(proposed[k]),
                "change_points": float((proposed[k] - current[k]) * 100.0),
                "guardrail_points": float(guardrail * 100.0),
                "current_budget": float(current[k] * budget),
                "proposed_budget": float(proposed[k] * budget),
                "change_budget": float((proposed[k] - current[k]) * budget),
                "marginal_roas": float(marginal[k]) if budget > 0 else None,
                "elasticity": float(b[k]),
                "curve": curve.curve,
                "curve_reason": curve.reason,
                "curve_fitted": curve.curve == FITTED,
                "days_fitted": curve.days,
                "expected_revenue_current": float(revenue_now[k]),
                "expected_revenue_proposed": float(revenue_next[k]),
                "expected_effect": float(effect[k]),
                "effect_low": float(effect[k] - spread[k]) if curve.uncertain else None,
                "effect_high": float(effect[k] + spread[k]) if curve.uncertain else None,
            }
        )
    context = [
        {
            "channel": names[i],
            "revenue": float(revenue[:, i].sum()),
            "reason": "no spend in the history: not reallocated",
        }
        for i in np.flatnonzero(totals <= 0)
    ]
    uncertain = np.array([c.uncertain for c in curves])
    total_spread = norm.ppf(0.5 + INTERVAL_LEVEL / 2) * np.sqrt(variance[uncertain].sum())
    left_out = [names[i] for i, c in zip(paid, curves, strict=True) if not c.uncertain]
    note = (
        f"{INTERVAL_LEVEL:.0%} interval from the fits' standard errors (delta method, "
        "normal quantiles; an assumed elasticity is taken as known)"
    )
    if left_out:
        note += f"; without {', '.join(left_out)} (fewer than 2 days to say how uncertain)"
    return BudgetAdvice(
        budget=budget,
        days=days,
        rows=rows,
        context=context,
        expected_revenue_current=float(revenue_now.sum()),
        expected_revenue_proposed=float(revenue_next.sum()),
        expected_effect=float(effect.sum()),
        effect_interval=(
            float(effect.sum() - total_spread),
            float(effect.sum() + total_spread),
        )
        if uncertain.any()
        else None,
        interval_note=note,
    )


def advise(
    channels: Sequence[str],
    spend: np.ndarray,
    revenue: np.ndarray,
    *,
    budget: float | None = None,
    guardrail: float = DEFAULT_GUARDRAIL,
) -> list[dict[str, Any]]:
    """The rows of `budget_advice`: one per channel with spend, in input order (channels
    without spend are left out: see `budget_advice(...).context`)."""
    return budget_advice(channels, spend, revenue, budget=budget, guardrail=guardrail).rows


def _proposed_shares(
    a: np.ndarray,
    b: np.ndarray,
    current: np.ndarray,
    *,
    days: int,
    daily: float,
    guardrail: float,
) -> np.ndarray:
    def expected(shares: np.ndarray) -> float:
        return float((days * a * (shares * daily) ** b).sum())

    if len(current) < 2 or daily <= 0:
        return current.copy()
    # Scaled by the current expectation so that SLSQP's tolerances mean the same
    # for a budget of 100 and of 10 million.
    scale = max(expected(current), 1e-12)

    def objective(s: np.ndarray) -> tuple[float, np.ndarray]:
        s = np.maximum(s, 1e-12)  # the derivative of s^b is infinite at 0
        value = days * a * (s * daily) ** b
        return -value.sum() / scale, -(value * b / s) / scale

    def spent_in_full(s: np.ndarray) -> float:  # the shares sum to 1
        return float(s.sum() - 1.0)

    bounds = list(
        zip(np.maximum(current - guardrail, 0.0), np.minimum(current + guardrail, 1.0), strict=True)
    )
    result = minimize(
        objective,
        current,
        jac=True,
        method="SLSQP",
        bounds=bounds,
        constraints=[{"type": "eq", "fun": spent_in_full, "jac": np.ones_like}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    low, high = np.array(bounds).T
    candidate = np.clip(result.x, low, high)
    candidate /= candidate.sum()
    # Never advise a move the curves expect to lose revenue on (a failed solve).
    return candidate if expected(candidate) >= expected(current) else current.copy()


def _effect_variance(curve: Curve, *, days: int, now: float, then: float) -> float:
    """Variance of days x a (then^b - now^b) from the covariance of (log a, b)."""
    effect = days * curve.a * (then**curve.b - now**curve.b)

    def x_log_x(x: float) -> float:  # d x^b / d b = x^b log x, 0 at x = 0
        return x**curve.b * np.log(x) if x > 0 else 0.0

    gradient = np.array([effect, days * curve.a * (x_log_x(then) - x_log_x(now))])
    return float(max(gradient @ curve.covariance @ gradient, 0.0))
