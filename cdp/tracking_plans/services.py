"""The writes of tracking plans: save a plan from its file (ours or a Segment Protocols
export), import one from a file's text, delete one, and propose one from a source's
events. Every plan that reaches the database went through engine.document.read_plan."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

import orjson
from django.db import transaction

from cdp.models import Source
from cdp.tracking_plans.engine.document import KINDS, PlanError, read_plan
from cdp.tracking_plans.engine.inference import infer_plan
from cdp.tracking_plans.engine.protocols import from_protocols, is_protocols_export
from cdp.tracking_plans.ingest import forget_plan_links
from cdp.tracking_plans.models import PlanViolationCount, TrackingPlan, TrackingPlanSource
from cdp.tracking_plans.selectors import observations

# Inference reads at most this many of the source's latest events.
INFERENCE_LIMIT = 100_000


def canonical_plan(document: Any) -> dict[str, Any]:
    """Our plan file, checked and canonical, from ours or a Protocols export."""
    if is_protocols_export(document):
        document = from_protocols(document)
    return read_plan(document)


def plan_digest(plan: dict[str, Any]) -> str:
    checked = {key: value for key, value in plan.items() if key != "sources"}
    return hashlib.sha256(orjson.dumps(checked, option=orjson.OPT_SORT_KEYS)).hexdigest()


@transaction.atomic
def save_plan(
    document: Any, *, plan: TrackingPlan | None = None, replace: bool = False
) -> TrackingPlan:
    """Create or change a plan from its file. `plan`: the one being edited; otherwise a
    plan of the same name is refused unless `replace`. The sources named follow it."""
    canonical = canonical_plan(document)
    plan, sources = check_plan(canonical, plan=plan, replace=replace)
    plan = plan or TrackingPlan()
    plan.name = canonical["name"]
    plan.description = canonical["description"]
    for kind in KINDS:
        setattr(plan, f"{kind}_mode", canonical["modes"][kind])
    plan.rules = {
        key: canonical[key] for key in ("context", "identify_traits", "group_traits", "events")
    }
    plan.digest = plan_digest(canonical)
    plan.save()
    TrackingPlanSource.objects.filter(plan=plan).exclude(source__in=sources).delete()
    TrackingPlanSource.objects.bulk_create(
        [TrackingPlanSource(plan=plan, source=source) for source in sources],
        ignore_conflicts=True,
    )
    forget_plan_links()
    transaction.on_commit(forget_plan_links)
    return plan


def check_plan(
    canonical: dict[str, Any], *, plan: TrackingPlan | None = None, replace: bool = False
) -> tuple[TrackingPlan | None, list[Source]]:
    """What saving a canonical plan would change (the plan it replaces, if any, and its
    sources), or PlanError: a name another plan has, a source unknown or taken."""
    existing = TrackingPlan.objects.filter(name=canonical["name"]).first()
    if plan is None and existing is not None:
        if not replace:
            raise PlanError(
                "a plan of this name exists (edit it, or import with replace)", field="name"
            )
        plan = existing
    elif plan is not None and existing is not None and existing.pk != plan.pk:
        raise PlanError("another plan has this name", field="name")
    return plan, _sources(canonical["sources"], plan)


def _sources(names: list[str], plan: TrackingPlan | None) -> list[Source]:
    found = {source.name: source for source in Source.objects.filter(name__in=names)}
    taken = dict(
        TrackingPlanSource.objects.filter(source__name__in=names)
        .exclude(plan=plan)
        .values_list("source__name", "plan__name")
    )
    for index, name in enumerate(names):
        if name not in found:
            raise PlanError(f"no source named {name!r}", field=f"sources[{index}]")
        if name in taken:
            raise PlanError(
                f"{name!r} already follows the plan {taken[name]!r} (a source follows one plan)",
                field=f"sources[{index}]",
            )
    return [found[name] for name in names]


def read_plan_file(text: bytes | str) -> Any:
    """The JSON of a plan file, or PlanError naming the line and column."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise PlanError(
            f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
            field="file",
        ) from None


def import_plan(
    text: bytes | str, *, replace: bool = False, sources: list[str] | None = None
) -> TrackingPlan:
    """Save the plan in a file's text (ours or a Protocols export); `sources` given
    replace the ones the file names."""
    document = canonical_plan(read_plan_file(text))
    if sources is not None:
        document["sources"] = list(sources)
    return save_plan(document, replace=replace)


@transaction.atomic
def delete_plan(plan: TrackingPlan) -> None:
    """The plan, its sources' links and its violation counts go; the events stay."""
    plan.delete()
    forget_plan_links()
    transaction.on_commit(forget_plan_links)


def propose_plan(
    source: Source,
    *,
    days: int = 30,
    name: str | None = None,
    limit: int = INFERENCE_LIMIT,
) -> dict[str, Any]:
    """A plan (not saved) of what `source` sent in the last `days` days, every mode
    flag: for a person to review, then save with save_plan."""
    if days < 1:
        raise PlanError("at least 1 day", field="days")
    if limit < 1:
        raise PlanError("at least 1 event", field="limit")
    name = name or f"{source.name} (inferred)"
    document = infer_plan(
        observations(source, days=days, limit=limit),
        name=name,
        sources=[source.name],
        description=f"Inferred from the events {source.name} sent in the last {days} days.",
    )
    return read_plan(document)


def forget_samples(*, message_ids: Collection[str], values: Collection[str]) -> int:
    """Empty the violation samples taken from these events or mentioning these values
    (an erased person's); the counts stay. How many samples were emptied."""
    ids = set(message_ids)
    wanted = [value.lower() for value in values if value and len(value) >= 3]
    mentioning = [
        pk
        for pk, sample in PlanViolationCount.objects.exclude(sample={}).values_list("pk", "sample")
        if sample.get("message_id") in ids
        or any(value in str(sample.get("value", "")).lower() for value in wanted)
    ]
    return PlanViolationCount.objects.filter(pk__in=mentioning).update(sample={})
