"""Attribution models over generated journeys: wall time and peak memory of each.

    python benchmarks/attribution.py --journeys 100000,1000000 --channels 15

Journeys are seeded: path lengths geometric (mean about 2.9 touches), channels drawn
with a skew (a few large channels, a long tail), 30% converting with gamma-distributed
values. Peak memory is what the model allocated (tracemalloc, which sees NumPy's
buffers). Figures are printed, never asserted.

With the `channelattribution` package installed (pip install channelattribution==2.2.5
matplotlib; its module imports matplotlib without declaring it), each journey count
also compares it with ours on the same paths: the journeys aggregated into unique paths
("a > b > c") with their conversions, value and non-converting count. Paths are passed
as they are, consecutive repeats of a channel kept: ours keeps them (A, A is a
self-loop on A), its heuristics count every touch as ours do, and its markov_model
merges consecutive repeats of a state, which at order 1 changes no absorption
probability (a self-loop only scales the rest of its row), so no removal effect either.
Its markov_model is simulated (random walks through the estimated chain, repeated until
the folds agree within conv_par) where ours is solved exactly; it is run with seed 0 on
one thread (ours is one thread too), on conversions alone, with its defaults, with
var_value, and with a tighter conv_par (see CA_MARKOV_RUNS). Both sides are timed
without tracemalloc, ours from Journeys to per-channel conversions (shares, then
channel_totals), theirs from the aggregated DataFrame, with the aggregation (which only
theirs needs) timed apart.

Its Markov model credits each channel RE / sum(RE) of all conversions; ours shares each
converting journey's conversion among the channels that journey touched, in proportion
to the same weights, so the two credited shares differ by design even where the removal
effects agree. Both are printed: the credited shares, and the removal-effect weights
(RE / sum RE), which is where a correct simulation must converge to our exact solution.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.engine.heuristics import first_touch, last_touch, linear  # noqa: E402
from attribution.engine.journeys import Journeys, channel_totals  # noqa: E402
from attribution.engine.markov import markov_shares, removal_effects  # noqa: E402
from attribution.engine.models import MODELS  # noqa: E402

CHANNELATTRIBUTION = "channelattribution==2.2.5"
# Its markov_model as run here, on conversions alone as ours (which credits value by the
# conversion shares): its defaults (nsim_start 1e5, conv_par 0.05); the same with
# var_value, where it also simulates a conversion value per simulated conversion (its
# cost grows with the number of distinct values per conversion); and a tighter
# convergence, to show where the simulation is heading.
CA_MARKOV_RUNS = {
    "defaults": {},
    "+ var_value": {"var_value": "total_conversion_value"},
    "conv_par 0.01": {"conv_par": 0.01},
}
HEURISTIC_PAIRS = {"first_touch": first_touch, "last_touch": last_touch, "linear_touch": linear}


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


def load_channelattribution() -> tuple[ModuleType | None, str]:
    """The ChannelAttribution module and its version, or None and why not."""
    try:
        # It prints a banner on import.
        with contextlib.redirect_stdout(io.StringIO()):
            import ChannelAttribution
    except ImportError as error:
        return None, str(error)
    from importlib.metadata import version

    return ChannelAttribution, version("channelattribution")


def aggregate(journeys: Journeys):
    """The journeys as channelattribution reads them: one row per unique path (channel
    names joined by " > ", repeats kept) with total_conversions, total_conversion_value
    and total_null."""
    import pandas as pd

    lengths = journeys.lengths
    width = max(int(lengths.max(initial=0)), 1)
    # Each journey as one fixed-width row of channel index + 1 (0 pads), so that unique
    # paths are unique rows, compared as raw bytes.
    dtype = np.min_scalar_type(len(journeys.channels))
    padded = np.zeros((journeys.count, width), dtype=dtype)
    journey = journeys.journey_of_touch()
    position = np.arange(len(journeys.touches)) - journeys.offsets[:-1][journey]
    padded[journey, position] = journeys.touches + 1
    rows = padded.view(np.dtype((np.void, width * padded.itemsize))).ravel()
    _, first, path = np.unique(rows, return_index=True, return_inverse=True)
    names = np.array(journeys.channels, dtype=object)
    starts, ends = journeys.offsets[:-1][first], journeys.offsets[1:][first]
    size = len(first)
    return pd.DataFrame(
        {
            "path": [
                " > ".join(names[journeys.touches[a:b]]) for a, b in zip(starts, ends, strict=True)
            ],
            "total_conversions": np.bincount(path, journeys.converted, size).astype(np.int64),
            "total_conversion_value": np.bincount(path, journeys.value, size),
            "total_null": np.bincount(path, ~journeys.converted, size).astype(np.int64),
        }
    )


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def _share(credits: np.ndarray) -> np.ndarray:
    total = credits.sum()
    return credits / total if total > 0 else credits


def _their_shares(frame, column: str, channels: tuple[str, ...]) -> np.ndarray:
    credits = frame.set_index("channel_name")[column].reindex(list(channels)).fillna(0.0)
    return _share(credits.to_numpy(dtype=np.float64))


def _largest(ours: np.ndarray, theirs: np.ndarray, channels: tuple[str, ...]) -> str:
    difference = np.abs(ours - theirs)
    worst = int(np.argmax(difference))
    size = difference[worst]
    return f"{size:.4f} ({channels[worst]})" if size >= 1e-4 else f"{size:.1e}"


def compare(journeys: Journeys, ca: ModuleType, version: str) -> None:
    channels = journeys.channels
    repeats = _consecutive_repeats(journeys)
    paths, aggregation = _timed(aggregate, journeys)
    print(
        f"  vs channelattribution {version}, order 1, on {len(paths):,} unique paths "
        f"({repeats:,} touches repeat the previous channel, kept)"
    )
    print(f"    aggregating journeys into paths (theirs only): {aggregation:7.2f} s")

    # Heuristics: theirs computes first, last and linear in one call.
    theirs, their_time = _timed(
        ca.heuristic_models,
        paths,
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        flg_pro=False,
    )
    our_time = 0.0
    differences = []
    for name, model in HEURISTIC_PAIRS.items():
        (credits, _), elapsed = _timed(lambda m=model: channel_totals(journeys, m(journeys)))
        our_time += elapsed
        their = _their_shares(theirs, f"{name}_conversions", channels)
        differences.append(f"{name} {_largest(_share(credits), their, channels)}")
    print(
        f"    first, last, linear   ours {our_time:7.2f} s   theirs {their_time:7.2f} s "
        f"({their_time + aggregation:.2f} s with aggregation)"
    )
    print(f"      largest difference in credited share: {', '.join(differences)}")

    # Ours timed as markov_shares + channel_totals; removal_effects (which solves the
    # chain again) only for the comparison of weights.
    (credits, _), our_time = _timed(lambda: channel_totals(journeys, markov_shares(journeys)))
    effects = removal_effects(journeys)
    our_shares = _share(credits)
    our_weights = _share(np.array([effects[c] for c in channels]))
    merged = removal_effects(_merge_repeats(journeys))
    print(
        "    ours with consecutive repeats merged, as their markov_model does: removal "
        f"effects move by at most {max(abs(merged[c] - effects[c]) for c in channels):.1e}"
    )
    for label, options in CA_MARKOV_RUNS.items():
        theirs, their_time = _timed(
            ca.markov_model,
            paths,
            "path",
            "total_conversions",
            var_null="total_null",
            order=1,
            out_more=True,
            ncore=1,
            seed=0,
            verbose=False,
            flg_pro=False,
            **options,
        )
        their_shares = _their_shares(theirs["result"], "total_conversions", channels)
        effects_frame = theirs["removal_effects"]
        # Named removal_effect without var_value, removal_effects_conversion with it.
        column = (
            "removal_effect" if "removal_effect" in effects_frame else "removal_effects_conversion"
        )
        their_weights = _their_shares(effects_frame, column, channels)
        print(
            f"    markov ({label + ')':<14} ours {our_time:7.2f} s   theirs {their_time:7.2f} s "
            f"({their_time + aggregation:.2f} s with aggregation)"
        )
        shares = _largest(our_shares, their_shares, channels)
        weights = _largest(our_weights, their_weights, channels)
        print(
            f"      largest difference in credited share {shares}, "
            f"in removal-effect weight {weights}"
        )


def _repeats(journeys: Journeys) -> np.ndarray:
    """For each touch, whether it has the channel of the touch before it in its journey."""
    journey = journeys.journey_of_touch()
    same = np.zeros(len(journeys.touches), dtype=bool)
    same[1:] = (journeys.touches[1:] == journeys.touches[:-1]) & (journey[1:] == journey[:-1])
    return same


def _consecutive_repeats(journeys: Journeys) -> int:
    return int(np.count_nonzero(_repeats(journeys)))


def _merge_repeats(journeys: Journeys) -> Journeys:
    """The journeys with each run of one channel merged into its first touch."""
    keep = ~_repeats(journeys)
    lengths = np.bincount(journeys.journey_of_touch()[keep], minlength=journeys.count)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Journeys(
        journeys.channels,
        offsets,
        journeys.touches[keep],
        journeys.ages[keep],
        journeys.converted,
        journeys.value,
    )


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
    ca, version = load_channelattribution()
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
        if ca is None:
            print(
                f"  channelattribution not installed: pip install {CHANNELATTRIBUTION} "
                f"matplotlib ({version})"
            )
        else:
            compare(journeys, ca, version)


if __name__ == "__main__":
    main()
