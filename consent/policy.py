"""The one question every app asks before using personal data: may purpose P use
profile X at time T? Attribution, segment exports and reports call these functions and
nothing else about consent.

A profile's consent is read across every profile merged into it (records stay on the
profile they were given for), taking the most restrictive current state per purpose;
an unmerge therefore gives each profile its own history back without moving anything.

The rules are those of `consent.engine.state`: per profile merged in, its latest record
in force (given by then, not yet expired; of two given at the same instant, the later
recorded); across them the most restrictive; with nothing in force, the purpose's
default where the customer lives. On PostgreSQL the records are read set-based, one
query for every profile and purpose asked about (an audience of 700,000 members reads
its consent in about a second); elsewhere each profile's records are read and the
engine applies the rules in Python. Both answer the same (tests/consent/test_policy_sets.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from cdp.id_filters import id_array, ids_in
from cdp.models import Profile
from cdp.services.bulk import statement_settings
from consent.engine import state as engine
from consent.errors import UnknownPurpose
from consent.models import ConsentRecord, Purpose
from identity.selectors import active_profile, merged_members

# The memory of the sorts and hashes of one statement over a large audience's consent.
WORK_MEM = "64MB"

# (profile id, purpose id, its current state or None, its country when the state is None)
Answer = tuple[int, int, str | None, str | None]


def purpose_by_key(key: str) -> Purpose:
    try:
        return Purpose.objects.get(key=key)
    except Purpose.DoesNotExist:
        known = ", ".join(Purpose.objects.values_list("key", flat=True))
        raise UnknownPurpose(f"no purpose {key!r} (known: {known})") from None


def _purpose(purpose: Purpose | str) -> Purpose:
    return purpose if isinstance(purpose, Purpose) else purpose_by_key(purpose)


def answers(
    purposes: Sequence[Purpose],
    profile_ids: Iterable[int],
    *,
    at: datetime,
    granted_too: bool = True,
) -> Iterator[Answer]:
    """For each of `profile_ids` (active profiles) and each purpose: its current state
    across the profiles merged into it, and its country when nothing in force was said
    (what its default depends on). Without `granted_too`, only the answers that are not
    "granted" (the ones that may refuse)."""
    ids = set(profile_ids)
    if not ids or not purposes:
        return iter(())
    if connection.vendor == "postgresql":
        return answers_in_one_query(purposes, ids, at=at, granted_too=granted_too)
    return answers_per_profile(purposes, ids, at=at, granted_too=granted_too)


def answers_per_profile(
    purposes: Sequence[Purpose], ids: set[int], *, at: datetime, granted_too: bool = True
) -> Iterator[Answer]:
    """`answers` with the engine's rules applied in Python to each profile's records."""
    root_of = merged_members(ids)
    history: dict[tuple[int, int], list] = defaultdict(list)
    for condition in ids_in("profile_id", root_of.keys()):
        rows = (
            ConsentRecord.objects.filter(condition, purpose__in=purposes, given_at__lte=at)
            .order_by("given_at", "pk")  # of two at the same instant, the later recorded wins
            .values_list("profile_id", "purpose_id", "status", "given_at", "expires_at")
        )
        for profile_id, purpose_id, status, given_at, expires_at in rows:
            history[profile_id, purpose_id].append((status, given_at, expires_at))
    countries: dict[int, object] = {}
    for condition in ids_in("pk", ids):
        countries.update(Profile.objects.filter(condition).values_list("pk", "traits__country"))
    for purpose in purposes:
        per_root: dict[int, list[str | None]] = defaultdict(list)
        for member, root in root_of.items():
            found = engine.state_at(history.get((member, purpose.pk), ()), at)
            per_root[root].append(found[0] if found else None)
        for pk in ids:
            state = engine.most_restrictive(per_root[pk])
            if granted_too or state != engine.GRANTED:
                country = countries.get(pk) if state is None else None
                yield pk, purpose.pk, state, country if isinstance(country, str) else None


def _most_restrictive_sql(column: str) -> str:
    """engine.most_restrictive over a group's `column`, as an SQL aggregate."""
    cases = " ".join(
        f"WHEN bool_or({column} = '{state}') THEN '{state}'" for state in engine.RESTRICTIVENESS
    )
    return f"CASE {cases} END"


def answers_in_one_query(
    purposes: Sequence[Purpose], ids: set[int], *, at: datetime, granted_too: bool = True
) -> Iterator[Answer]:
    """`answers` read by PostgreSQL in one statement: per profile merged in and purpose
    its latest record in force, the most restrictive per customer, the country where
    nothing is in force. Only the merged profiles' links are sent besides the ids.

    A customer with no profile merged into it (nearly all) has its own latest record as
    its state: only the customers with merged profiles are joined to their members and
    grouped (joining and grouping every record took 3 of the 7.5 s of a 692,821-member
    audience's consent)."""
    root_of = merged_members(ids)
    merged = [(member, root) for member, root in root_of.items() if member != root]
    involved = {member for member, _ in merged} | {root for _, root in merged}
    records = connection.ops.quote_name(ConsentRecord._meta.db_table)
    profiles = connection.ops.quote_name(Profile._meta.db_table)
    sql = f"""
        WITH asked (id) AS (SELECT unnest(%(ids)s::bigint[])),
        tree (member, root) AS (
            SELECT unnest(%(members)s::bigint[]), unnest(%(roots)s::bigint[])
            UNION SELECT unnest(%(roots)s::bigint[]), unnest(%(roots)s::bigint[])
        ),
        latest AS (
            SELECT DISTINCT ON (r.profile_id, r.purpose_id) r.profile_id, r.purpose_id, r.status
            FROM {records} r
            WHERE r.profile_id = ANY(%(all)s::bigint[])
              AND r.purpose_id = ANY(%(purposes)s::bigint[])
              AND r.given_at <= %(at)s AND (r.expires_at IS NULL OR r.expires_at > %(at)s)
            ORDER BY r.profile_id, r.purpose_id, r.given_at DESC, r.id DESC
        ),
        current (root, purpose_id, state) AS (
            SELECT l.profile_id, l.purpose_id, l.status FROM latest l
            WHERE NOT l.profile_id = ANY(%(involved)s::bigint[])
            UNION ALL
            SELECT t.root, l.purpose_id, {_most_restrictive_sql("l.status")}
            FROM latest l JOIN tree t ON t.member = l.profile_id
            GROUP BY t.root, l.purpose_id
        )
        SELECT a.id, u.purpose_id, c.state,
               CASE WHEN c.state IS NULL AND jsonb_typeof(p.traits -> 'country') = 'string'
                    THEN p.traits ->> 'country' END
        FROM asked a
        CROSS JOIN unnest(%(purposes)s::bigint[]) AS u (purpose_id)
        LEFT JOIN current c ON c.root = a.id AND c.purpose_id = u.purpose_id
        LEFT JOIN {profiles} p ON p.id = a.id AND c.state IS NULL
        WHERE %(granted_too)s OR c.state IS DISTINCT FROM '{engine.GRANTED}'
    """
    params: dict[str, Any] = {
        "ids": id_array(sorted(ids)),
        "members": id_array(m for m, _ in merged),
        "roots": id_array(r for _, r in merged),
        "all": id_array(sorted(root_of)),
        "involved": id_array(sorted(involved)),
        "purposes": id_array(p.pk for p in purposes),
        "at": at,
        "granted_too": granted_too,
    }
    # Its sorts and hashes in memory (the default 4 MB spills those of a large audience
    # to disk), and no JIT compilation (most of a second, for nothing it speeds up).
    with statement_settings(work_mem=WORK_MEM, jit="off"), connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(50_000):
            yield from rows


class _Rule:
    """Whether a purpose may use a profile with a given state and country: the engine's
    default_for and allowed, remembered per (purpose, state, country) seen."""

    def __init__(self, purposes: Sequence[Purpose]) -> None:
        self.purposes = {p.pk: p for p in purposes}
        self.known: dict[tuple[int, str | None, str | None], bool] = {}

    def allows(self, purpose_id: int, state: str | None, country: str | None) -> bool:
        key = (purpose_id, state, country)
        if key not in self.known:
            purpose = self.purposes[purpose_id]
            default = engine.default_for(purpose.default, purpose.region_defaults, country)
            self.known[key] = engine.allowed(state, default)
        return self.known[key]


def states(
    purpose: Purpose | str, profile_ids: Iterable[int], *, at: datetime | None = None
) -> dict[int, str | None]:
    """Each profile's current state for `purpose` (granted, denied, withdrawn, or None
    when nothing in force was said), across the profiles merged into it."""
    purpose = _purpose(purpose)
    found = answers([purpose], profile_ids, at=at or timezone.now())
    return {pk: state for pk, _, state, _ in found}


def decisions(
    purpose: Purpose | str, profile_ids: Iterable[int], *, at: datetime | None = None
) -> dict[int, tuple[str | None, bool]]:
    """Per profile of `profile_ids` (active profiles): (its current state, whether
    `purpose` may use it at `at`, now by default)."""
    purpose = _purpose(purpose)
    rule = _Rule([purpose])
    found = answers([purpose], profile_ids, at=at or timezone.now())
    return {pk: (state, rule.allows(p, state, country)) for pk, p, state, country in found}


def refusals(
    purposes: Sequence[Purpose | str], profile_ids: Iterable[int], *, at: datetime | None = None
) -> dict[str, set[int]]:
    """Per purpose key: those of `profile_ids` (active profiles) the purpose may not use
    at `at` (now). Set-based: one read for every purpose (an audience asks for three)."""
    chosen = [_purpose(p) for p in purposes]
    rule = _Rule(chosen)
    key_of = {p.pk: p.key for p in chosen}
    refused: dict[str, set[int]] = {p.key: set() for p in chosen}
    found = answers(chosen, profile_ids, at=at or timezone.now(), granted_too=False)
    for pk, purpose_id, state, country in found:
        if not rule.allows(purpose_id, state, country):
            refused[key_of[purpose_id]].add(pk)
    return refused


def allowed_profiles(
    purpose: Purpose | str, profile_ids: Iterable[int], *, at: datetime | None = None
) -> set[int]:
    """Those of `profile_ids` (active profiles) that `purpose` may use at `at` (now)."""
    purpose = _purpose(purpose)
    ids = set(profile_ids)
    return ids - refusals([purpose], ids, at=at)[purpose.key]


def may_use(purpose: Purpose | str, profile_id: int, *, at: datetime | None = None) -> bool:
    """May `purpose` use profile `profile_id` (or the profile it was merged into)?"""
    active = active_profile(profile_id)
    return active in allowed_profiles(purpose, [active], at=at)
