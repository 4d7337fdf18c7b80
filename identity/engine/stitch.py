"""Which identifiers belong together: union-find over identifiers seen on one event. Pure."""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class UnionFind:
    """Disjoint sets with path halving and union by size."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}
        self.size: dict[Hashable, int] = {}

    def add(self, item: Hashable) -> None:
        if item not in self.parent:
            self.parent[item] = item
            self.size[item] = 1

    def find(self, item: Hashable) -> Hashable:
        self.add(item)
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: Hashable, b: Hashable) -> Hashable:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return root_a
        if self.size[root_a] < self.size[root_b]:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.size[root_a] += self.size[root_b]
        return root_a

    def groups(self) -> list[list[Hashable]]:
        members: dict[Hashable, list[Hashable]] = {}
        for item in self.parent:
            members.setdefault(self.find(item), []).append(item)
        return list(members.values())


def connected_groups(sets: Iterable[Iterable[Hashable]]) -> list[list[Hashable]]:
    """Group items that appear together in any of `sets`, transitively."""
    forest = UnionFind()
    for items in sets:
        items = list(items)
        for item in items:
            forest.add(item)
        for other in items[1:]:
            forest.union(items[0], other)
    return forest.groups()
