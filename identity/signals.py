"""How other apps follow merges: the identity app never imports them.

`profiles_merging` is sent inside the merge's transaction, before anything moves; a
receiver moves its own rows of the merged profile to the survivor (consents, segment
memberships) and returns what it needs to undo that, a JSON-serialisable value kept in
the merge decision's snapshot under `undo_key(receiver)`. `profiles_unmerged` is sent
inside the unmerge's transaction after identifiers and touchpoints are back, with all
the undo records, so each receiver can restore its rows exactly:

    @receiver(profiles_merging)
    def move_consents(sender, survivor_id, merged_id, **kwargs):
        ...
        return {"consents": moved_ids}

    @receiver(profiles_unmerged)
    def restore_consents(sender, merged_id, saved, **kwargs):
        moved = saved.get(undo_key(move_consents))
"""

from django.dispatch import Signal

# kwargs: survivor_id, merged_id, method. Return a JSON-serialisable undo record or None.
profiles_merging = Signal()
# kwargs: survivor_id, merged_id, decision, saved ({undo_key(receiver): undo record}).
profiles_unmerged = Signal()


def undo_key(receiver) -> str:
    """The key a receiver's undo record is kept under: its dotted path."""
    return f"{receiver.__module__}.{receiver.__qualname__}"
