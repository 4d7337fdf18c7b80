"""Reads of the identity graph, for other apps and for reports."""

from collections.abc import Collection, Iterable, Iterator
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from cdp.id_filters import ids_in
from cdp.models import Profile, Source, Touchpoint
from identity.engine.normalize import normalize_identifier
from identity.models import Identifier, MatchReview, MergeDecision, Refusal


def active_profiles(profile_ids: Iterable[int]) -> dict[int, int]:
    """Each profile id -> the live profile it is part of now (itself unless it was
    merged away, then the end of its merged_into chain)."""
    current = {pk: pk for pk in profile_ids}
    pending = set(current.values())
    while pending:
        into: dict[int, int] = {}
        for condition in ids_in("pk", pending):
            for pk, parent in Profile.objects.filter(
                condition, merged_into__isnull=False
            ).values_list("pk", "merged_into"):
                assert parent is not None  # merged_into__isnull=False
                into[pk] = parent
        if not into:
            break
        for pk, now in current.items():
            if now in into:
                current[pk] = into[now]
        pending = set(into.values())
    return current


def active_profile(profile_id: int) -> int:
    return active_profiles([profile_id])[profile_id]


def merged_members(roots: set[int]) -> dict[int, int]:
    """Every profile merged (directly or not) into one of `roots` -> that root; the roots
    map to themselves. What other apps keep per profile (consent) is read through this."""
    root_of = {pk: pk for pk in roots}
    frontier = set(roots)
    while frontier:
        conditions, frontier = list(ids_in("merged_into", frontier)), set()
        for condition in conditions:
            merged = Profile.objects.filter(condition).values_list("pk", "merged_into")
            for pk, into in merged:
                assert into is not None  # merged into one of the frontier
                root_of[pk] = root_of[into]
                frontier.add(pk)
    return root_of


def identifiers_of_profile(profile: Profile) -> QuerySet[Identifier]:
    return Identifier.objects.filter(profile=profile).order_by("kind", "value")


def profile_ids_for_identifier(kind: str, value: str) -> QuerySet:
    normalized = normalize_identifier(
        kind, value, default_region=settings.OMNITRAIL_DEFAULT_PHONE_REGION
    )
    return Identifier.objects.filter(kind=kind, value=normalized or "").values("profile_id")


def merge_decision_summary(decision: MergeDecision) -> dict:
    """A merge decision as plain data (for the profile API and access bundles)."""
    return {
        "id": decision.pk,
        "survivor": decision.survivor_id,
        "merged": decision.merged_id,
        "method": decision.method,
        "evidence": decision.evidence,
        "decided_by": decision.decided_by,
        "created_at": decision.created_at.isoformat(),
        "undone_at": decision.undone_at.isoformat() if decision.undone_at else None,
    }


def merge_history(profile: Profile | int) -> QuerySet[MergeDecision]:
    """Merges this profile took part in, newest first."""
    return MergeDecision.objects.filter(survivor=profile) | MergeDecision.objects.filter(
        merged=profile
    )


def identifier_profiles() -> dict[tuple[str, str], int]:
    """Every identifier and the profile it belongs to (for scoring against a truth)."""
    rows = Identifier.objects.values_list("kind", "value", "profile_id").iterator(chunk_size=10_000)
    return {(kind, value): profile for kind, value, profile in rows}


def identity_map(source: Source) -> Iterator[tuple[str, int | None]]:
    """(external id, profile id) for every key `source` sent: the record ids of its
    imports (their externalIds) and the userIds and anonymousIds of its events."""
    touchpoints = Touchpoint.objects.filter(source=source)
    keys: set[tuple[str, str]] = set()
    for kind, column in (("user_id", "user_id"), ("anonymous_id", "anonymous_id")):
        values = touchpoints.exclude(**{column: ""}).values_list(column, flat=True).distinct()
        keys.update((kind, value) for value in values.iterator(chunk_size=10_000))
    external = touchpoints.filter(context__has_key="externalIds").values_list(
        "context__externalIds", flat=True
    )
    for entries in external.iterator(chunk_size=10_000):
        for entry in entries or []:
            if isinstance(entry, dict) and entry.get("type") and entry.get("id"):
                keys.add((entry["type"], str(entry["id"])))
    ordered = sorted(keys, key=lambda key: (key[1], key[0]))
    for start in range(0, len(ordered), 5_000):
        chunk = ordered[start : start + 5_000]
        normalized = {key: (key[0], normalize_identifier(key[0], key[1]) or "") for key in chunk}
        found = {
            (kind, value): profile
            for kind, value, profile in Identifier.objects.filter(
                value__in={value for _, value in normalized.values()}
            ).values_list("kind", "value", "profile_id")
        }
        for key in chunk:
            yield key[1], found.get(normalized[key])


def identity_summary() -> dict:
    """Figures for the demo and operators."""
    return {
        "identifiers_by_kind": dict(
            Identifier.objects.values_list("kind").annotate(n=Count("id")).order_by()
        ),
        "quarantined_identifiers": Identifier.objects.filter(
            status=Identifier.Status.QUARANTINED
        ).count(),
        "merges_by_method": dict(
            MergeDecision.objects.filter(undone_at__isnull=True)
            .values_list("method")
            .annotate(n=Count("id"))
            .order_by()
        ),
        "refusals_by_reason": dict(
            Refusal.objects.values_list("reason").annotate(n=Count("id")).order_by()
        ),
        "reviews_pending": MatchReview.objects.filter(status=MatchReview.Status.PENDING).count(),
    }


def identifiers_by_profile(profile_ids: Iterable[int]) -> list[tuple[str, str, int]]:
    """(kind, value, profile id) of the active identifiers of these profiles, the most
    recently seen first within a kind (so the first of a kind is the one to use)."""
    found: list[tuple[str, str, int]] = []
    for condition in ids_in("profile_id", set(profile_ids)):
        found += (
            Identifier.objects.filter(condition, status=Identifier.Status.ACTIVE)
            .order_by("profile_id", "kind", "-last_seen")
            .values_list("kind", "value", "profile_id")
        )
    return found


def profiles_merged_or_unmerged_since(since) -> set[int]:
    """Both sides of every merge decided, or undone, since `since`."""
    decisions = MergeDecision.objects.filter(created_at__gte=since) | MergeDecision.objects.filter(
        undone_at__gte=since
    )
    found: set[int] = set()
    for survivor, merged in decisions.values_list("survivor_id", "merged_id"):
        found |= {survivor, merged}
    return found


# --- the pages under /app/: customer search, merge history, the review queue -------------

# The kinds a bare search value (one typed without "kind:") is tried as, besides the
# identifier traits and the kinds that have a per-profile limit.
SEARCHED_KINDS = ("email", "phone", "user_id", "anonymous_id", "device_id")


def searched_kinds() -> list[str]:
    """Every identifier kind a bare search value could be, the likeliest first."""
    return list(
        dict.fromkeys(
            [
                *SEARCHED_KINDS,
                *settings.OMNITRAIL_IDENTIFIER_TRAITS,
                *settings.OMNITRAIL_IDENTIFIER_LIMITS,
            ]
        )
    )


def search_keys(value: str, *, kind: str | None = None) -> list[tuple[str, str]]:
    """The (kind, normalised value) keys a search stands for, normalised the way
    identifiers were when they were stored: `kind` alone when given, else every kind
    the value can be (an email address is no phone number)."""
    keys = []
    for each in [kind] if kind else searched_kinds():
        normalized = normalize_identifier(
            each, value, default_region=settings.OMNITRAIL_DEFAULT_PHONE_REGION
        )
        if normalized is not None:
            keys.append((each, normalized))
    return list(dict.fromkeys(keys))


def identifiers_with_keys(keys: Iterable[tuple[str, str]], *, limit: int = 50) -> list[Identifier]:
    """The identifiers that are exactly one of `keys`: one probe of the (kind, value)
    unique index per key, never a scan by value alone."""
    keys = list(keys)
    if not keys:
        return []
    wanted = reduce(or_, (Q(kind=kind, value=value) for kind, value in keys))
    return list(Identifier.objects.filter(wanted).order_by("kind", "value")[:limit])


def merge_history_with_members(profile_id: int, *, limit: int = 100) -> list[MergeDecision]:
    """The merges of a profile and of every profile merged into it (directly or not),
    undone ones included, newest first: a merge deep in the chain is part of this
    customer's history too, and its undo must be reachable from their page."""
    members = list(merged_members({profile_id}))
    decisions = MergeDecision.objects.filter(Q(survivor_id__in=members) | Q(merged_id__in=members))
    return list(decisions.order_by("-created_at", "-id")[:limit])


def queued_reviews(status: str = MatchReview.Status.PENDING) -> QuerySet[MatchReview]:
    """The reviews in one status, the most likely matches first (the review_queue index)."""
    return MatchReview.objects.filter(status=status).order_by("-match_probability", "id")


def reviews_in_status(status: str, *, cap: int = 10_000) -> tuple[int, bool]:
    """How many reviews are in `status`, counted up to `cap`, and whether there are more."""
    counted = MatchReview.objects.filter(status=status).values("pk")[: cap + 1].count()
    return min(counted, cap), counted > cap


def profiles_split_off(profile_ids: Collection[int]) -> set[int]:
    """The other profiles the per-kind limit kept apart from these over one of their own
    identifiers: an identify carrying this person's user id with a sixth email leaves that
    email on a profile of its own, and the refusal names both. The same person, split by
    a guardrail: erasure covers them too. Anonymous ids are left out (a shared browser is
    not one person)."""
    wanted = set(profile_ids)
    held = Identifier.objects.filter(profile_id__in=wanted).exclude(kind="anonymous_id")
    keys = Q(pk__in=[])
    for kind, value in held.values_list("kind", "value"):
        keys |= Q(kind=kind, value=value)
    refused = Refusal.objects.filter(keys, reason=Refusal.Reason.LIMIT)
    named = {pk for profiles in refused.values_list("profiles", flat=True) for pk in profiles or []}
    return set(Profile.objects.filter(pk__in=named - wanted).values_list("pk", flat=True))
