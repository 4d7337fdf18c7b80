"""Do two people's names say they are different people? Pure: no Django, no Splink.

Stitching asks it before a shared phone or email joins two profiles: a household's
landline, or a family's email, is shared by people whose first names differ ("Mary
Smith" and "John Smith" at one number), while one person's records differ only by a
nickname, a typo, an initial or first and last name swapped ("Bill", "Wiliam", "W.",
"Smith William" are all William Smith). Only the first name is decisive: surnames
change at marriage, and a household shares one anyway.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

from rapidfuzz.distance import OSA, JaroWinkler

# Jaro-Winkler similarity above which two first names are one written with a slip: the
# matching engine's lowest typo band ("jonh"/"john" 0.93, "anna"/"anne" 0.88; "john" and
# "joan" 0.87, "mary" and "maria" 0.85 stay apart). Lenient on purpose: it only has to
# tell a household's members apart, and their names mostly differ outright.
SIMILAR_FIRST_NAMES = 0.88


# Nicknames and the names they stand for, from the `nicknames` package (a maintained
# dataset of 2,691 English pairs: "bill" is a nickname of william, will, robert...). A
# first name's forms are itself and every name it is a nickname of: two names share a
# form when one is a nickname of the other or both are nicknames of one name.
def _nickname_forms() -> dict[str, tuple[str, ...]]:
    from nicknames import name_triplets

    forms: dict[str, set[str]] = {}
    for triplet in name_triplets():
        forms.setdefault(triplet.name2, {triplet.name2}).add(triplet.name1)
    return {name: tuple(sorted(names)) for name, names in forms.items()}


NICKNAMES: dict[str, tuple[str, ...]] = _nickname_forms()

Name = tuple[str, str | None]  # (first name, last name), cleaned


def clean_name(value: object) -> str | None:
    """`"José O'Brien-Smith"` -> `"jose obrien smith"`, as the matching engine cleans."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKD", value)
    text = "".join(char for char in text if not unicodedata.combining(char)).lower()
    text = re.sub(r"['.`’]", "", text)
    text = " ".join(re.sub(r"[^\w]+|[\d_]+", " ", text).split())
    return text or None


def name_of(traits: Mapping[str, object] | None) -> Name | None:
    """The (first, last) name some traits give, or None without a first name."""
    if not isinstance(traits, Mapping):
        return None
    first = clean_name(traits.get("first_name"))
    if first is None:
        return None
    return first, clean_name(traits.get("last_name"))


@lru_cache(maxsize=65_536)
def first_names_agree(a: str, b: str) -> bool:
    """One first name, written two ways: equal, nickname forms that meet, an initial of
    the other, or within a slip of the keyboard (one edit in a name of four letters or
    more, or Jaro-Winkler above SIMILAR_FIRST_NAMES). The price of a slip: "mary" and
    "mark" agree; names one letter apart are rare in a household."""
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    if set(NICKNAMES.get(a, (a,))) & set(NICKNAMES.get(b, (b,))):
        return True
    if min(len(a), len(b)) >= 4 and OSA.distance(a, b) <= 1:
        return True  # one letter wrong, dropped, doubled or two swapped: "msrk", "mark"
    return JaroWinkler.similarity(a, b) > SIMILAR_FIRST_NAMES


def names_agree(a: Name, b: Name) -> bool:
    """The same person's name, first names agreeing or first and last name swapped."""
    if first_names_agree(a[0], b[0]):
        return True
    return (
        a[1] is not None
        and b[1] is not None
        and first_names_agree(a[0], b[1])
        and first_names_agree(a[1], b[0])
    )


def names_contradict(left: Iterable[Name], right: Iterable[Name]) -> bool:
    """True when both sides have names and none of one side's agrees with any of the
    other's. No name on either side contradicts nothing."""
    left, right = list(left), list(right)
    if not left or not right:
        return False
    return not any(names_agree(a, b) for a in left for b in right)
