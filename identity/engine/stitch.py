"""Which identifiers belong together: union-find over identifiers seen on one event. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from identity.engine.names import Name, names_contradict

Item = TypeVar("Item", bound=Hashable)


class UnionFind(Generic[Item]):
    """Disjoint sets with path halving and union by size."""

    def __init__(self) -> None:
        self.parent: dict[Item, Item] = {}
        self.size: dict[Item, int] = {}

    def add(self, item: Item) -> None:
        if item not in self.parent:
            self.parent[item] = item
            self.size[item] = 1

    def find(self, item: Item) -> Item:
        self.add(item)
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: Item, b: Item) -> Item:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return root_a
        if self.size[root_a] < self.size[root_b]:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.size[root_a] += self.size[root_b]
        return root_a

    def groups(self) -> list[list[Item]]:
        members: dict[Item, list[Item]] = {}
        for item in self.parent:
            members.setdefault(self.find(item), []).append(item)
        return list(members.values())


Key = tuple[str, str]
ProfileId = int  # a stored profile's id, or a negative number for one not yet created


def merge_refusal(
    left: Iterable[ProfileId],
    right: Iterable[ProfileId],
    *,
    left_counts: Mapping[str, int],
    right_counts: Mapping[str, int],
    blocked: Collection[frozenset[ProfileId]],
    limits: Mapping[str, int],
) -> tuple[str, str] | None:
    """Why the profiles `left` and `right` (each with the profiles merged into it) may not
    become one, as (reason, detail), or None when they may: a pair of them that staff
    separated ("unmerged"; `blocked` holds such pairs as frozensets), or a kind of
    identifier the merged profile would hold more of than `limits` allow ("limit";
    `*_counts` are each side's identifiers per kind). Stitching and Splink merges both
    ask this."""
    right = list(right)
    for x in left:
        for y in right:
            if frozenset((x, y)) in blocked:
                return "unmerged", f"profiles {x} and {y} were separated by staff"
    for kind, limit in limits.items():
        total = left_counts.get(kind, 0) + right_counts.get(kind, 0)
        if total > limit:
            return "limit", f"the merged profile would hold {total} {kind} (limit {limit})"
    return None


@dataclass(frozen=True)
class Guardrails:
    """The rules that keep one person's profile from swallowing strangers."""

    limits: Mapping[str, int]  # kind -> most values one profile may hold (absent: no limit)
    quarantine_after: int  # profiles an identifier may conflict with before it joins nothing
    priority: Sequence[str]  # kinds, strongest first: the event goes where its strongest id is
    # Kinds shared by households (a landline, a family email): one joins two profiles
    # only when their names do not contradict (identity.engine.names).
    name_checked: Collection[str] = ()


@dataclass(frozen=True)
class Merge:
    survivor: ProfileId
    merged: ProfileId
    via: Key


@dataclass(frozen=True)
class Refusal:
    reason: str  # limit | unmerged | quarantine | names
    key: Key
    profiles: tuple[ProfileId, ...]
    detail: str
    event: Hashable | None = None


@dataclass
class Placement:
    """What `IdentityGraph` decided for a batch, for the service to write."""

    event_profile: dict[Hashable, ProfileId | None] = field(default_factory=dict)
    new_keys: dict[Key, ProfileId] = field(default_factory=dict)
    merges: list[Merge] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    quarantined: set[Key] = field(default_factory=set)
    new_profiles: list[ProfileId] = field(default_factory=list)


class IdentityGraph:
    """The part of the identity graph one batch touches, decided in memory.

    Events are placed one at a time in time order: identifiers on one event join one
    profile unless a guardrail refuses (a kind over its limit, a pair staff unmerged,
    names that contradict across a household's shared phone or email), and an
    identifier that keeps conflicting is quarantined.
    """

    def __init__(
        self,
        guardrails: Guardrails,
        *,
        profile_of: Mapping[Key, ProfileId],
        kind_counts: Mapping[ProfileId, Mapping[str, int]],
        quarantined: Iterable[Key] = (),
        blocked_pairs: Iterable[tuple[ProfileId, ProfileId]] = (),
        conflicts: Mapping[Key, Iterable[ProfileId]] | None = None,
        names: Mapping[ProfileId, Iterable[Name]] | None = None,
    ):
        self.rules = guardrails
        self.rank = {kind: index for index, kind in enumerate(guardrails.priority)}
        self.profile_of: dict[Key, ProfileId] = dict(profile_of)
        self.counts: dict[ProfileId, Counter[str]] = {
            profile: Counter(counts) for profile, counts in kind_counts.items()
        }
        self.members: dict[ProfileId, set[ProfileId]] = {}
        self.quarantined = set(quarantined)
        self.blocked = {frozenset(pair) for pair in blocked_pairs}
        self.conflicts: dict[Key, set[ProfileId]] = {
            key: set(profiles) for key, profiles in (conflicts or {}).items()
        }
        self.redirect: dict[ProfileId, ProfileId] = {}
        self.names: dict[ProfileId, set[Name]] = {
            profile: set(known) for profile, known in (names or {}).items()
        }
        self.result = Placement()
        self._next_new = -1

    # -- profiles -------------------------------------------------------------------------
    def _current(self, profile: ProfileId) -> ProfileId:
        while profile in self.redirect:
            profile = self.redirect[profile]
        return profile

    def _new_profile(self) -> ProfileId:
        profile = self._next_new
        self._next_new -= 1
        self.counts[profile] = Counter()
        self.result.new_profiles.append(profile)
        return profile

    @staticmethod
    def _age(profile: ProfileId) -> tuple[int, int]:
        # Stored profiles are older than new ones; among each, the first made is older.
        return (0, profile) if profile > 0 else (1, -profile)

    def _members(self, profile: ProfileId) -> set[ProfileId]:
        return self.members.get(profile, {profile})

    def _why_not_merge(self, a: ProfileId, b: ProfileId) -> tuple[str, str] | None:
        return merge_refusal(
            self._members(a),
            self._members(b),
            left_counts=self.counts[a],
            right_counts=self.counts[b],
            blocked=self.blocked,
            limits=self.rules.limits,
        )

    def _merge(self, a: ProfileId, b: ProfileId, via: Key) -> ProfileId:
        survivor, merged = sorted((a, b), key=self._age)
        self.redirect[merged] = survivor
        self.counts[survivor] += self.counts.pop(merged)
        self.members[survivor] = self._members(survivor) | self._members(merged)
        self.names[survivor] = self.names.get(survivor, set()) | self.names.pop(merged, set())
        self.result.merges.append(Merge(survivor, merged, via))
        return survivor

    def _refuse(
        self,
        reason: str,
        key: Key,
        profiles: tuple[ProfileId, ...],
        detail: str,
        event: Hashable | None,
    ) -> None:
        self.result.refusals.append(Refusal(reason, key, profiles, detail, event))
        if reason == "names":
            return  # the identifier is shared as it should be; nothing to quarantine
        seen = self.conflicts.setdefault(key, set())
        seen.update(profiles)
        if len(seen) >= self.rules.quarantine_after and key not in self.quarantined:
            self.quarantined.add(key)
            self.result.quarantined.add(key)
            self.result.refusals.append(
                Refusal(
                    "quarantine",
                    key,
                    tuple(sorted(seen)),
                    f"conflicted with {len(seen)} profiles; it no longer joins any",
                    event,
                )
            )

    # -- placing events -------------------------------------------------------------------
    def _household(
        self, key: Key, anchor: ProfileId | None, other: ProfileId, name: Name | None
    ) -> bool:
        """Whether `key` (a kind households share) would join people whose names differ:
        the event's name and its profile's so far against the names of `other`."""
        if key[0] not in self.rules.name_checked:
            return False
        mine = set(self.names.get(anchor, ())) if anchor is not None else set()
        if name is not None:
            mine.add(name)
        return names_contradict(mine, self.names.get(other, ()))

    def place(
        self, event: Hashable, keys: Sequence[Key], name: Name | None = None
    ) -> ProfileId | None:
        """Decide the profile of one event carrying `keys` (and the person's `name`, when
        it gives one), joining what may be joined."""
        keys = sorted(dict.fromkeys(keys), key=lambda key: self.rank.get(key[0], len(self.rank)))
        if not keys:
            self.result.event_profile[event] = None
            return None
        joining = [key for key in keys if key not in self.quarantined]
        known = [key for key in joining if key in self.profile_of]
        # The person's own identifiers first, then those households share, so that a
        # shared one is checked against every profile the event joins.
        known.sort(key=lambda key: key[0] in self.rules.name_checked)
        anchor: ProfileId | None = None
        apart: set[Key] = set()  # shared with someone else's household: joins nothing here
        for key in known:
            other = self._current(self.profile_of[key])
            if other == anchor:
                continue
            if self._household(key, anchor, other, name):
                apart.add(key)
                self._refuse(
                    "names",
                    key,
                    (other,) if anchor is None else (anchor, other),
                    f"{key[0]} {key[1]!r} is shared with profile {other}, whose names differ:"
                    " a household, not one person",
                    event,
                )
                continue
            if anchor is None:
                anchor = other
                continue
            refused = self._why_not_merge(anchor, other)
            if refused:
                self._refuse(refused[0], key, (anchor, other), refused[1], event)
            else:
                anchor = self._merge(anchor, other, key)
        if anchor is None and apart:
            anchor = self._new_profile()  # their own, without the identifier they share
        homeless = [key for key in joining if key not in self.profile_of]
        for key in homeless:
            if anchor is None:
                anchor = self._new_profile()
            target = anchor
            limit = self.rules.limits.get(key[0])
            if limit is not None and self.counts[anchor][key[0]] + 1 > limit:
                # e.g. a second userId on a shared browser or behind a shared email: it
                # starts a profile of its own, and the id that linked them is the culprit.
                target = self._new_profile()
                culprit = known[0] if known else key
                self._refuse(
                    "limit",
                    culprit,
                    (anchor, target),
                    f"{key[0]} {key[1]!r} would be one {key[0]} too many on profile {anchor}"
                    f" (limit {limit}); it got a profile of its own",
                    event,
                )
                anchor = target
            self.profile_of[key] = target
            self.counts[target][key[0]] += 1
            self.result.new_keys[key] = target
        strongest = next((key for key in keys if key in self.profile_of and key not in apart), None)
        profile = self._current(self.profile_of[strongest]) if strongest else anchor
        if profile is not None and name is not None:
            self.names.setdefault(profile, set()).add(name)
        self.result.event_profile[event] = profile
        return profile

    def finish(self) -> Placement:
        """The decisions, each as of the moment it was made: events and new identifiers
        point at the profile they joined then, and `merges` replays what happened after,
        in order. Writing them in that order keeps every merge's snapshot exact."""
        return self.result
