"""The name check stitching asks before a shared phone or email joins two profiles
(identity/engine/names.py), on pairs whose answer is worked out by hand: the edit
distance (OSA) and Jaro-Winkler similarity of each pair are in the comments."""

import pytest

from identity.engine.names import (
    clean_name,
    first_names_agree,
    name_of,
    names_agree,
    names_contradict,
)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("José O'Brien-Smith", "jose obrien smith"),  # accent dropped, ' removed, - a space
        ("A.B. 3rd_x", "ab rd x"),  # dots removed; digits and _ are spaces
        ("Zoë’s", "zoes"),  # a typographic apostrophe, as '
        ("  ", None),
        ("42", None),
        (None, None),
        (7, None),
    ],
)
def test_names_are_cleaned_as_the_matching_engine_cleans_them(raw, cleaned):
    assert clean_name(raw) == cleaned


def test_a_name_needs_a_first_name():
    assert name_of({"first_name": " Mary ", "last_name": "Smith"}) == ("mary", "smith")
    assert name_of({"first_name": "Mary"}) == ("mary", None)
    assert name_of({"first_name": "Mary", "last_name": 3}) == ("mary", None)
    assert name_of({"last_name": "Smith"}) is None
    assert name_of({"first_name": "--", "last_name": "Smith"}) is None
    assert name_of(None) is None
    assert name_of("Mary Smith") is None  # type: ignore[arg-type]  # what a source may send


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("mary", "mary"),
        ("w", "william"),  # an initial, either way round
        ("william", "w"),
        ("bill", "william"),  # a nickname (OSA 4, Jaro-Winkler 0.73)
        ("peggy", "margaret"),
        # One edit in names of four letters or more, where Jaro-Winkler alone says no:
        # mary/gary 0.83 (no common prefix), lena/lina 0.85, zora/zola 0.87.
        ("mary", "gary"),
        ("lena", "lina"),
        ("zora", "zola"),
        # Three letters: no edit rule, only Jaro-Winkler: xan/xann match 3 of 3 and 4
        # letters, jaro (1 + 3/4 + 1) / 3 = 0.9167, common prefix 3:
        # 0.9167 + 3 x 0.1 x (1 - 0.9167) = 0.9417 > 0.88.
        ("xan", "xann"),
    ],
)
def test_one_first_name_written_two_ways_agrees(a, b):
    assert first_names_agree(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("j", "william"),  # an initial of another name
        ("william", "j"),
        # tom/tim: one edit but three letters, so only Jaro-Winkler counts: 2 of 3 match,
        # jaro (2/3 + 2/3 + 1) / 3 = 0.778, prefix 1: 0.778 + 0.1 x 0.222 = 0.80.
        ("tom", "tim"),
        # zora/zula: two edits (OSA 2); 2 of 4 letters match: jaro (1/2 + 1/2 + 1) / 3
        # = 0.667, below Winkler's 0.7 threshold for a prefix bonus, so 0.667.
        ("zora", "zula"),
        ("mary", "myra"),
        ("karl", "kurt"),
    ],
)
def test_different_first_names_do_not_agree(a, b):
    assert not first_names_agree(a, b)


def test_first_and_last_name_swapped_agree_only_when_both_swap():
    assert names_agree(("smith", "william"), ("william", "smith"))
    assert names_agree(("smith", "bill"), ("william", "smith"))  # swapped and a nickname
    # Only one half of the swap agrees: mary is b's last name, but smith is not john.
    assert not names_agree(("smith", "mary"), ("john", "mary"))
    assert not names_agree(("mary", "smith"), ("john", "mary"))
    # No last name on one side: nothing to swap.
    assert not names_agree(("smith", None), ("john", "smith"))
    assert not names_agree(("john", "smith"), ("smith", None))


def test_names_contradict_only_when_no_name_of_one_side_agrees_with_the_other():
    assert names_contradict([("mary", "smith"), ("ann", None)], [("john", "smith")])
    assert not names_contradict([("mary", "smith"), ("john", None)], [("john", "smith")])
    assert not names_contradict([("mary", None)], [])
    assert not names_contradict([], [])
    # Generators are read once each, both sides in full.
    assert names_contradict(iter([("mary", None)]), iter([("tom", None), ("john", None)]))
