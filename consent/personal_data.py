"""What the apps above consent hold about a person, for data-subject requests.

consent.privacy answers access and erasure requests, but some personal data lives in
apps above consent (attribution's segment memberships and profile facts), which consent
does not import: layers point down. Each such app registers here, in its
AppConfig.ready(), what an access bundle gets from it and what it must do once a person
is erased.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

# Profile ids (a person and those merged into them) → the parts of the access bundle.
BundlePart = Callable[[Collection[int]], dict[str, Any]]
# Run after the erasure commits: recompute what was derived from the erased person.
AfterErasure = Callable[[], None]

_bundle_parts: list[BundlePart] = []
_after_erasure: list[AfterErasure] = []


def register_holder(*, bundle: BundlePart, after_erasure: AfterErasure | None = None) -> None:
    # ready() may run again (a test reloading apps): register each once.
    if bundle not in _bundle_parts:
        _bundle_parts.append(bundle)
    if after_erasure is not None and after_erasure not in _after_erasure:
        _after_erasure.append(after_erasure)


def held_above(profile_ids: Collection[int]) -> dict[str, Any]:
    """The access bundle's parts from the apps above consent."""
    parts: dict[str, Any] = {}
    for bundle in _bundle_parts:
        parts |= bundle(profile_ids)
    return parts


def work_after_erasure() -> list[AfterErasure]:
    return list(_after_erasure)
