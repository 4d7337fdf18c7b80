"""The demo's tracking-plan step: a plan inferred from what the website sent, saved in
flag mode, then a batch from "the next release" of the site that drifts from it (a
price sent as text, a product id missing, an unplanned property, an unplanned event),
and the violations the plan found, read back from their daily counts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
from django.test import Client

from cdp.models import Source, Touchpoint
from cdp.tracking_plans.engine.document import plan_summary
from cdp.tracking_plans.selectors import violations
from cdp.tracking_plans.services import propose_plan, save_plan

SOURCE = "web"


def drifted_events(product_viewed: dict[str, Any]) -> list[dict[str, Any]]:
    """The next release's events, from one Product Viewed the site sent."""
    without_id = {key: value for key, value in product_viewed.items() if key != "product_id"}
    return [
        {"event": "Product Viewed", "properties": {**product_viewed, "price": "89.00"}},
        {"event": "Product Viewed", "properties": without_id},
        {"event": "Product Viewed", "properties": {**product_viewed, "colour": "teal"}},
        {"event": "Wishlist Shared", "properties": {"product_id": "demo-p-1"}},
    ]


def run_tracking_plan(client: Client, write_key: str) -> dict[str, Any]:
    """Infer, save in flag mode, send the drifted batch; what the plan found."""
    source = Source.objects.get(name=SOURCE)
    document = propose_plan(source, days=1)
    plan = save_plan(document)
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    viewed = (
        Touchpoint.objects.filter(source=source, event="Product Viewed")
        .order_by("-id")
        .values_list("properties", flat=True)
        .first()
    )
    batch = [
        {"type": "track", "userId": "demo-release-tester", "messageId": f"demo-drift-{i}", **e}
        for i, e in enumerate(drifted_events(viewed or {"product_id": "demo-p-1"}))
    ]
    answer = client.post(
        "/v1/batch",
        orjson.dumps({"batch": batch}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
    ).json()
    return {
        "plan": plan,
        "summary": plan_summary(document),
        "identify_traits": len((document["identify_traits"] or {}).get("properties") or {}),
        "sent": len(batch),
        "accepted": answer.get("accepted", 0),
        "rejected": len(answer.get("rejected", [])),
        "violations": violations(plan, days=1),
    }


def say_tracking_plan(found: dict[str, Any], say: Callable[[str], None]) -> None:
    if not found:
        return
    plan, summary = found["plan"], found["summary"]
    events = ", ".join(f"{n} {kind}" for kind, n in summary.items() if n)
    say("")
    say(f"== Tracking plan (inferred from source '{SOURCE}', saved in flag mode) ==")
    say(f"planned events             {sum(summary.values())} ({events})")
    say(f"identify traits planned    {found['identify_traits']}")
    say(f"plan saved as              '{plan.name}' (admin, /app/tracking-plans/{plan.pk}/)")
    say(
        f"drifted batch sent         {found['sent']} events, {found['accepted']} stored, "
        f"{found['rejected']} rejected"
    )
    say(f"violations found           {sum(row['count'] for row in found['violations'])}")
    for row in found["violations"]:
        say(
            f"  {'NEW ' if row['new'] else '    '}{row['event_name']:<18} {row['property']:<22} "
            f"{row['kind']:<20} {row['count']:>3} flagged, e.g. {row['sample']['value']}"
        )
