"""Reads of stored attribution runs: credits with cost, ROAS and CPA, models side by side."""

from __future__ import annotations


def latest_run(goal_key: str):
    """The newest completed attribution run of a goal, or None."""
    from attribution.models import AttributionRun

    return (
        AttributionRun.objects.filter(goal__key=goal_key, status="completed")
        .order_by("-finished_at")
        .first()
    )


def credit_report(run, *, model: str, group_by: str = "channel") -> list[dict]:
    """Per channel (or channel and campaign): conversions and revenue the model credited
    in the run, what it cost (costs dated up to the run's end), ROAS (revenue / cost)
    and CPA (cost / conversions); ROAS and CPA are None where they do not exist."""
    from django.db.models import Sum

    from attribution.models import Cost, Credit

    if group_by not in ("channel", "campaign"):
        raise ValueError("group_by: must be channel or campaign")
    keys = ["channel"] if group_by == "channel" else ["channel", "campaign"]
    credited = (
        Credit.objects.filter(run=run, model=model)
        .values(*keys)
        .annotate(conversions=Sum("conversions"), revenue=Sum("value"))
    )
    costs = Cost.objects.all()
    until = (run.parameters or {}).get("until")
    if until:
        costs = costs.filter(date__lte=until[:10])
    spent = {
        tuple(row[k] for k in keys): float(row["spent"])
        for row in costs.values(*keys).annotate(spent=Sum("cost"))
    }
    rows = []
    seen = set()
    for row in credited:
        key = tuple(row[k] for k in keys)
        seen.add(key)
        rows.append(
            _report_row(model, keys, key, row["conversions"], row["revenue"], spent.get(key))
        )
    for key, cost in spent.items():  # money spent where nothing was credited
        if key not in seen:
            rows.append(_report_row(model, keys, key, 0.0, 0.0, cost))
    return sorted(rows, key=lambda r: (-r["revenue"], r["channel"], r.get("campaign", "")))


def _report_row(model, keys, key, conversions, revenue, cost) -> dict:
    row = {"model": model, **dict(zip(keys, key, strict=True))}
    row.update(
        conversions=round(conversions, 6),
        revenue=round(revenue, 2),
        cost=round(cost, 2) if cost is not None else 0.0,
        roas=round(revenue / cost, 4) if cost else None,
        cpa=round(cost / conversions, 2) if cost and conversions else None,
    )
    return row


def model_comparison(run, *, group_by: str = "channel") -> list[dict]:
    """Side by side: per channel (or campaign), the conversions and revenue each model
    in the run credits."""
    from django.db.models import Sum

    from attribution.models import Credit

    keys = ["channel"] if group_by == "channel" else ["channel", "campaign"]
    table: dict[tuple, dict] = {}
    rows = (
        Credit.objects.filter(run=run)
        .values(*keys, "model")
        .annotate(conversions=Sum("conversions"), revenue=Sum("value"))
    )
    for row in rows:
        key = tuple(row[k] for k in keys)
        entry = table.setdefault(key, dict(zip(keys, key, strict=True)))
        entry[row["model"]] = {
            "conversions": round(row["conversions"], 6),
            "revenue": round(row["revenue"], 2),
        }
    return sorted(
        table.values(),
        key=lambda e: -max((v["revenue"] for v in e.values() if isinstance(v, dict)), default=0),
    )
