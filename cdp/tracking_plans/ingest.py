"""The tracking-plan step of ingestion: each normalised event checked against its
source's plan before the batch is stored, and the batch's violations counted after.

`cdp.services.ingest.ingest_batch` asks `plan_check_for(source)` once per batch, calls
`screen` for every event it is about to store and `record` with the rows it stored,
inside its transaction. A source without a plan gets `NO_PLAN`, whose calls do nothing.

Which plan a source follows is kept per process for LINK_SECONDS (2 s; forgotten at once
in the process that changes a plan), so a batch costs no query for it; the compiled
validators are kept per process by the plan's digest, so an edited plan is compiled once,
and no compiled plan can outlive a change of its rules.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import orjson
from django.db import connection

from cdp.ingest_steps import suppressed_messages
from cdp.tracking_plans.engine.checks import (
    BLOCKED,
    CompiledPlan,
    Verdict,
    Violation,
    compile_plan,
    strip,
)
from cdp.tracking_plans.engine.document import KIND_WORDS
from cdp.tracking_plans.models import PlanViolationCount, TrackingPlan, TrackingPlanSource

COMPILED_PLANS_KEPT = 32
SAMPLE_CHARS = 200

_compiled: OrderedDict[str, CompiledPlan] = OrderedDict()
_compiled_lock = threading.Lock()


def compiled_plan(plan: TrackingPlan) -> CompiledPlan:
    """The plan's validators, compiled once per process and digest."""
    with _compiled_lock:
        found = _compiled.get(plan.digest)
        if found is not None:
            _compiled.move_to_end(plan.digest)
            return found
    from cdp.tracking_plans.selectors import plan_document

    compiled = compile_plan(plan_document(plan))
    with _compiled_lock:
        _compiled[plan.digest] = compiled
        while len(_compiled) > COMPILED_PLANS_KEPT:
            _compiled.popitem(last=False)
    return compiled


class _NoPlan:
    def screen(self, row: dict[str, Any], result: Any, **where: Any) -> bool:
        return True

    def record(self, stored: Iterable[dict[str, Any]]) -> None:
        return None


NO_PLAN = _NoPlan()


# Which plan each source follows, per process, for this long: a plan saved elsewhere
# (another web worker) applies within it; one saved in this process, at once.
LINK_SECONDS = 2.0
_links: dict[tuple[int, str], tuple[float, tuple[int, str, str] | None]] = {}


def forget_plan_links() -> None:
    """Called by every change of a plan or of the sources following it."""
    _links.clear()


def _link(source: Any) -> tuple[int, str, str] | None:
    # Keyed by the write key's hash too: an id used again (a test rolled back, a source
    # deleted and made anew) is another source.
    key = (source.pk, source.write_key_hash)
    now = time.monotonic()
    found = _links.get(key)
    if found is not None and now - found[0] < LINK_SECONDS:
        return found[1]
    link = (
        TrackingPlanSource.objects.filter(source_id=source.pk)
        .values_list("plan_id", "plan__digest", "plan__name")
        .first()
    )
    if len(_links) > 10_000:
        _links.clear()
    _links[key] = (now, link)
    return link


def plan_check_for(source: Any) -> PlanCheck | _NoPlan:
    """The check of one batch from `source`: its plan's, or NO_PLAN."""
    link = _link(source)
    if link is None:
        return NO_PLAN
    plan_id, digest, name = link
    with _compiled_lock:
        compiled = _compiled.get(digest)
    if compiled is None:
        plan = TrackingPlan.objects.filter(pk=plan_id).first()
        if plan is None:  # deleted in another process since we looked
            forget_plan_links()
            return NO_PLAN
        compiled = compiled_plan(plan)
    return PlanCheck(source.pk, plan_id, name, compiled)


class PlanCheck:
    """One batch's events against one plan: what to store, and the counts to add."""

    def __init__(self, source_id: int, plan_id: int, plan_name: str, compiled: CompiledPlan):
        from cdp.services.ingest import Rejection  # ingest imports this module

        self.rejection = Rejection
        self.source_id = source_id
        self.plan_id = plan_id
        self.plan_name = plan_name
        self.compiled = compiled
        self.blocked: list[tuple[dict[str, Any], Verdict]] = []
        self.flagged: dict[str, tuple[dict[str, Any], Verdict]] = {}

    def screen(
        self,
        row: dict[str, Any],
        result: Any,
        *,
        index: int,
        prefix: str = "",
        line: int | None = None,
    ) -> bool:
        """Check one normalised event. False: it breaks a blocking rule and is now among
        `result.rejected`, not to be stored. True: store `row`, from which stripped
        properties were taken out (`result.warnings` says which)."""
        traits = row["traits"]
        # rudder-sdk-python sends identify traits in context.traits.
        traits_in_context = row["type"] == "identify" and not traits
        if traits_in_context:
            traits = row["context"].get("traits")
        verdict = self.compiled.check(
            row["type"],
            row["event"],
            properties=row["properties"],
            traits=traits,
            context=row["context"],
        )
        if verdict.action is None:
            return True
        if traits_in_context:
            verdict = _traits_in_context(verdict)
        if verdict.action == BLOCKED:
            if suppressed_messages({row["message_id"]: row}):
                # An erased person's event is dropped unseen, never kept as a rejection.
                result.suppressed += 1
                return False
            first = verdict.blocking
            assert first is not None  # a blocked verdict names what blocked it
            field = f"{prefix}{first.field}"
            result.rejected.append(
                self.rejection(
                    index,
                    f"tracking_plan_{first.kind}",
                    field,
                    f"{field}: {first.message} ({KIND_WORDS[first.kind]} in the tracking "
                    f"plan {self.plan_name!r})",
                    line=line,
                )
            )
            self.blocked.append((row, verdict))
            return False
        if verdict.stripped:
            payloads = strip(
                {key: row[key] for key in ("properties", "traits", "context")}, verdict.stripped
            )
            row.update(payloads)
            names = ", ".join(f"{prefix}{violation.field}" for violation in verdict.stripped)
            result.warnings.append(
                self.rejection(
                    index,
                    "tracking_plan_stripped",
                    f"{prefix}{verdict.stripped[0].location[0]}",
                    f"{names}: not in the tracking plan {self.plan_name!r}; stored without "
                    + ("it" if len(verdict.stripped) == 1 else "them"),
                    line,
                )
            )
        self.flagged[row["message_id"]] = (row, verdict)
        return True

    def record(self, stored: Iterable[dict[str, Any]]) -> None:
        """Add this batch's counts: the blocked events, and those flagged or stripped
        that were stored now (a retried batch's duplicates are not counted again)."""
        kept = [
            self.flagged[row["message_id"]] for row in stored if row["message_id"] in self.flagged
        ]
        counts = _counts(self.plan_id, self.source_id, [*self.blocked, *kept])
        if counts:
            _add_counts(counts)


def _traits_in_context(verdict: Verdict) -> Verdict:
    def moved(violation: Violation) -> Violation:
        head, *rest = violation.location
        if head != "traits":
            return violation
        return replace(violation, location=("context", "traits", *rest))

    return replace(
        verdict,
        violations=[moved(v) for v in verdict.violations],
        blocking=moved(verdict.blocking) if verdict.blocking else None,
        stripped=[moved(v) for v in verdict.stripped],
    )


def _property(violation: Violation) -> str:
    # Positions in a list are not kept: products[0].price and products[3].price are one.
    head, *rest = violation.location
    text = str(head) + "".join("[]" if isinstance(p, int) else f".{p}" for p in rest)
    return text[:255]


def _sample(row: dict[str, Any], violation: Violation) -> dict[str, Any]:
    value = orjson.dumps(violation.value, default=str).decode()
    if len(value) > SAMPLE_CHARS:
        value = value[: SAMPLE_CHARS - 1] + "…"
    return {
        "message_id": row["message_id"],
        "field": violation.field,
        "value": value,
        "message": violation.message,
    }


Key = tuple[Any, ...]


def _counts(
    plan_id: int, source_id: int, events: Sequence[tuple[dict[str, Any], Verdict]]
) -> dict[Key, list[Any]]:
    counts: dict[Key, list[Any]] = {}
    for row, verdict in events:
        at: datetime = row["received_at"]
        day = at.astimezone(UTC).date()
        for violation in verdict.violations:
            key = (
                day,
                plan_id,
                source_id,
                row["type"],
                row["event"][:255],
                _property(violation),
                violation.kind,
                verdict.action,
            )
            entry = counts.get(key)
            if entry is None:
                counts[key] = [1, at, at, _sample(row, violation)]
            else:
                entry[0] += 1
                entry[2] = max(entry[2], at)
                entry[3] = _sample(row, violation)
    return counts


_COLUMNS = (
    "day",
    "plan_id",
    "source_id",
    "event_type",
    "event_name",
    "property",
    "kind",
    "action",
    "count",
    "first_seen_at",
    "last_seen_at",
    "sample",
)


def _adapted(value: Any) -> Any:
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    return value


def _add_counts(counts: dict[Key, list[Any]]) -> None:
    """One INSERT … ON CONFLICT for the batch (PostgreSQL and SQLite alike), keys in
    order so that two batches adding to the same rows never deadlock."""
    table = connection.ops.quote_name(PlanViolationCount._meta.db_table)
    json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    one = "(" + ", ".join(["%s"] * (len(_COLUMNS) - 1) + [json_param]) + ")"
    keys = sorted(counts)
    params: list[Any] = []
    for key in keys:
        count, first, last, sample = counts[key]
        params += [*key, count, first, last, orjson.dumps(sample).decode()]
    # Times go in as Django would write them (SQLite stores text, PostgreSQL timestamptz).
    params = [_adapted(value) for value in params]
    unique = ", ".join(_COLUMNS[:8])
    sql = (
        f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES {', '.join([one] * len(keys))} "
        f"ON CONFLICT ({unique}) DO UPDATE SET count = {table}.count + excluded.count, "
        "last_seen_at = excluded.last_seen_at, sample = excluded.sample"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
