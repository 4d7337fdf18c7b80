"""Drawing from the seeded random streams: weighted tables, UUIDs, Poisson counts.

Every draw takes the caller's `random.Random`, so the same seed gives the same files.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random


class WeightedChoice:
    """A fixed table of values and weights to draw from many times, cheaply."""

    def __init__(self, pairs):
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from `rng`, as uuid.UUID(int=..., version=4) spells it."""
    # Formatted by hand: it is the most frequent call of the whole generation.
    text = f"{(rng.getrandbits(128) & UUID4_CLEAR) | UUID4_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def poisson(rng: random.Random, mean: float) -> int:
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
