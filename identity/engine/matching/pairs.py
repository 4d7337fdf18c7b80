"""What the model says about two profiles, and the people pairs join. Pure, no Splink."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from identity.engine.stitch import UnionFind


@dataclass(frozen=True)
class ScoredPair:
    """Two profiles the model compared, and what it found."""

    left_id: int
    right_id: int
    match_probability: float
    match_weight: float
    levels: dict[str, str]  # comparison -> the label of the level the pair fell in


class ScoredPairs(list[ScoredPair]):
    """The pairs a prediction kept, and how many pairs it compared to find them (the
    pairs its blocking rules brought together), so that a run can report both; and
    which rules those were, when the prediction chose them (`blocking_rules_for`)."""

    comparisons: int = 0
    blocking_rules: tuple[str, ...] = ()


def cluster_pairs(
    ids: Iterable[int], pairs: Iterable[ScoredPair], *, threshold: float
) -> list[list[int]]:
    """Profiles joined, directly or through others, by pairs scoring at least
    `threshold`: each cluster of two or more sorted, clusters ordered by first id.

    Every id a pair names must be among `ids`; a pair naming another is a caller's
    mistake and raises ValueError.
    """
    known = set(ids)
    forest: UnionFind[int] = UnionFind()
    for pair in pairs:
        if pair.match_probability < threshold:
            continue
        for profile in (pair.left_id, pair.right_id):
            if profile not in known:
                raise ValueError(
                    f"pair ({pair.left_id}, {pair.right_id}) names unknown id {profile}"
                )
        forest.union(pair.left_id, pair.right_id)
    clusters = [sorted(group) for group in forest.groups() if len(group) > 1]
    return sorted(clusters)
