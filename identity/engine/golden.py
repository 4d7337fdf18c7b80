"""The golden record: one value per trait from everything a profile's sources said. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RULES = ("most_recent", "most_frequent", "source_priority")


class UnknownRule(ValueError):
    """A trait rule that is not one of RULES: refused, so that a misspelt rule does not
    quietly behave as another."""


def rule_problems(rules: object) -> list[str]:
    """What is wrong with a trait-rules mapping (trait, or "*" for the rest, to one of
    RULES), one sentence per fault naming the trait and the rule; [] when nothing is."""
    if not isinstance(rules, Mapping):
        return [f"must map traits to rules, got {type(rules).__name__}"]
    return [
        f"trait {trait!r}: unknown rule {rule!r} (rules: {', '.join(RULES)})"
        for trait, rule in rules.items()
        if rule not in RULES
    ]


@dataclass(frozen=True)
class Observation:
    trait: str
    value: Any
    source: str
    at: datetime


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def build_golden_record(
    observations: Iterable[Observation],
    *,
    rules: Mapping[str, str],
    source_priority: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Traits and, for each, where its value came from.

    `rules` maps a trait (or "*" for the rest) to most_recent, most_frequent or
    source_priority (the first source in `source_priority` that said anything wins;
    sources not listed rank after, most recent first). Ties go to the most recent.
    A rule that is none of these raises UnknownRule.
    """
    if problems := rule_problems(rules):
        raise UnknownRule("; ".join(problems))
    by_trait: dict[str, list[Observation]] = {}
    for observation in observations:
        if observation.value in (None, ""):
            continue
        by_trait.setdefault(observation.trait, []).append(observation)
    rank = {source: index for index, source in enumerate(source_priority)}
    traits: dict[str, Any] = {}
    provenance: dict[str, dict[str, str]] = {}
    for trait, seen in by_trait.items():
        rule = rules.get(trait, rules.get("*", "most_recent"))
        latest_first = sorted(seen, key=lambda o: o.at, reverse=True)
        if rule == "most_frequent":
            counts = Counter(_hashable(o.value) for o in seen)
            chosen = max(latest_first, key=lambda o: counts[_hashable(o.value)])
        elif rule == "source_priority":
            chosen = min(latest_first, key=lambda o: rank.get(o.source, len(rank)))
        else:
            chosen = latest_first[0]
        traits[trait] = chosen.value
        provenance[trait] = {"source": chosen.source, "at": chosen.at.isoformat(), "rule": rule}
    return traits, provenance


def standing(
    traits: Mapping[str, Any],
    provenance: Mapping[str, Any],
    *,
    rules: Mapping[str, str],
) -> list[Observation] | None:
    """A golden record's values as the observations they won from, to fold new ones into
    (`build_golden_record(standing(...) + new)`) instead of reading every observation
    again: under most_recent and source_priority the winner among all observations is
    the winner among the last winner and the new ones. None when that does not hold: a
    trait under most_frequent (it counts them all), a value without its source and time,
    or one chosen under another rule than today's."""
    kept: list[Observation] = []
    for trait, value in traits.items():
        rule = rules.get(trait, rules.get("*", "most_recent"))
        said = provenance.get(trait)
        if rule == "most_frequent" or not isinstance(said, Mapping) or said.get("rule") != rule:
            return None
        try:
            at = datetime.fromisoformat(said["at"])
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(said.get("source"), str) or at.tzinfo is None:
            return None
        kept.append(Observation(trait, value, said["source"], at))
    return kept
