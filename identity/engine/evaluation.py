"""Pairwise precision, recall and F1 of a clustering against the truth. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)


@dataclass(frozen=True)
class PairwiseScores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    items: int


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(
    predicted: Mapping[Item, Hashable], truth: Mapping[Item, Hashable]
) -> PairwiseScores:
    """Over the items both know: of the pairs put together, how many belong together
    (precision), and of the pairs that belong together, how many were put together (recall).
    Counted from cluster sizes, never by listing pairs, so it scales to millions."""
    items = [item for item in predicted if item in truth]
    both = Counter((predicted[item], truth[item]) for item in items)
    predicted_pairs = sum(_pairs(n) for n in Counter(predicted[i] for i in items).values())
    true_pairs = sum(_pairs(n) for n in Counter(truth[i] for i in items).values())
    agreed = sum(_pairs(n) for n in both.values())
    precision = agreed / predicted_pairs if predicted_pairs else 1.0
    recall = agreed / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(precision, recall, f1, true_pairs, predicted_pairs, len(items))
