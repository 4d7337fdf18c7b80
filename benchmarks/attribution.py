"""Attribution models over generated journeys: wall time and peak memory of each.

    python benchmarks/attribution.py --journeys 100000,1000000 --channels 15

Journeys are seeded: path lengths geometric (mean about 2.9 touches), channels drawn
with a skew (a few large channels, a long tail), 30% converting with gamma-distributed
values. Peak memory is what the model allocated (tracemalloc, which sees NumPy's
buffers). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.engine.journeys import Journeys, channel_totals  # noqa: E402
from attribution.engine.markov import markov_shares  # noqa: E402
from attribution.engine.models import MODELS  # noqa: E402


def generate(count: int, channels: int, seed: int) -> Journeys:
    rng = np.random.default_rng(seed)
    lengths = rng.geometric(0.35, count)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    popularity = 1 / np.arange(1, channels + 1)
    touches = rng.choice(channels, size=offsets[-1], p=popularity / popularity.sum())
    ages = rng.uniform(0, 30 * 86_400, offsets[-1])
    converted = rng.random(count) < 0.3
    value = np.where(converted, rng.gamma(2.0, 40.0, count), 0.0)
    names = tuple(f"channel-{i:02d}" for i in range(channels))
    return Journeys(names, offsets, touches.astype(np.int32), ages, converted, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", default="100000,1000000")
    parser.add_argument("--channels", type=int, default=15)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, NumPy {np.__version__}"
    )
    models = dict(MODELS)
    models["markov order 2"] = lambda j: markov_shares(j, order=2)
    models["markov order 3"] = lambda j: markov_shares(j, order=3)
    for count in (int(n) for n in args.journeys.split(",")):
        journeys = generate(count, args.channels, args.seed)
        print(
            f"\n{count:,} journeys, {len(journeys.touches):,} touches, {args.channels} channels, "
            f"{int(journeys.converted.sum()):,} converting"
        )
        heuristics = 0.0
        for name, model in models.items():
            tracemalloc.start()
            started = time.perf_counter()
            shares = model(journeys)
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            conversions, value = channel_totals(journeys, shares)
            exact = abs(conversions.sum() - journeys.converted.sum()) < 1e-6 * count
            if name in (
                "first_touch",
                "last_touch",
                "last_non_direct",
                "linear",
                "time_decay",
                "position_based",
            ):
                heuristics += elapsed
            print(
                f"  {name:<16} {elapsed:7.2f} s  peak {peak:8.0f} MB  credits sum to "
                f"conversions: {'yes' if exact else 'NO'}"
            )
        print(f"  all six rule-based models: {heuristics:.2f} s")


if __name__ == "__main__":
    main()
