"""Attribution models over generated journeys: wall time and peak memory of each, and
the data-driven models against reference implementations.

    pip install -e '.[bench]'
    python benchmarks/attribution.py --journeys 100000,1000000 --channels 15

Journeys are seeded: path lengths geometric (mean about 2.9 touches), channels drawn
with a skew (a few large channels, a long tail), 30% converting with gamma-distributed
values. Peak memory is what the model allocated (tracemalloc, which sees NumPy's
buffers). Figures are printed, never asserted.

Markov against `channelattribution` 2.2.5 (GPL-3; its module imports matplotlib
without declaring it), on the same paths: the journeys aggregated into unique paths
("a > b > c") with their conversions, value and non-converting count. Paths are passed
as they are, consecutive repeats of a channel kept: ours keeps them (A, A is a
self-loop on A), its heuristics count every touch as ours do, and its markov_model
merges consecutive repeats of a state, which at order 1 changes no absorption
probability (a self-loop only scales the rest of its row), so no removal effect either.
Its markov_model is simulated (random walks through the estimated chain, repeated until
the folds agree within conv_par) where ours is solved exactly; it is run on one thread
(ours is one thread too) with its defaults, with var_value, and with conv_par=0.01 under
CA_SEEDS seeds. Both allocations of ours are compared with its credited shares:
`markov` (the standard allocation, N x RE_c / sum RE) must agree with its
total_conversions within its simulation noise; `markov_journey` (each journey split
over the channels it touched) differs by design. A simulation of the same chain written
here (random walks, apart from the engine) says whether ours is the exact solution and
where theirs sits. Its total_conversion_value (with
var_value) follows removal effects computed on values, which ours computes exactly as
value_removal_effects; our `markov` splits value by the conversion removal effects.
Both sides are timed without tracemalloc, ours from Journeys to per-channel credit,
theirs from the aggregated DataFrame, with the aggregation (which only theirs needs)
timed apart.

Shapley against `marketing-attribution-models` 2.1.1 (module `mam`, Apache-2.0): its
run_shapley plays a different game (per converting channel combination C, a Shapley
value over C's channels where a subset is worth the conversion rate of journeys with
exactly that channel set, then scaled to C's conversions), so it is printed beside ours
and beside a brute-force textbook Shapley of its game written here, which it must equal;
ours (each conversion split evenly over its journey's distinct channels, the Shapley
value of the game where a coalition is worth the conversions of journeys whose channels
it contains) is checked against a brute-force textbook Shapley of our game (every
coalition, |S|! (n - |S| - 1)! / n! weights), which it must equal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
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
from attribution.engine.markov import (  # noqa: E402
    markov_credit,
    markov_journey_shares,
    markov_shares,
    removal_effects,
    value_removal_effects,
)
from attribution.engine.models import MODELS  # noqa: E402
from attribution.engine.shapley import shapley_shares, shapley_values  # noqa: E402

CHANNELATTRIBUTION = "channelattribution==2.2.5"
MAM = "marketing-attribution-models==2.1.1"
# Its markov_model as run here: its defaults (nsim_start 1e5, conv_par 0.05); the same
# with var_value, where it also simulates a conversion value per simulated conversion;
# and a tighter convergence, to show where the simulation is heading.
CA_MARKOV_RUNS = {
    "defaults": {},
    "+ var_value": {"var_value": "total_conversion_value"},
    "conv_par 0.01": {"conv_par": 0.01},
}
# Seeds of the conv_par=0.01 runs (0 is the run above): their spread, the seeds' noise.
CA_SEEDS = (0, 1, 2, 3, 4)
# Random walks of the independent simulation of the chain (in blocks, for its noise).
SIMULATED_WALKS = 4_000_000
SIMULATION_BLOCKS = 8
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


def _markov_run(ca: ModuleType, paths, **options) -> tuple[dict, float]:
    result, elapsed = _timed(
        ca.markov_model,
        paths,
        "path",
        "total_conversions",
        var_null="total_null",
        order=1,
        out_more=True,
        ncore=1,
        verbose=False,
        flg_pro=False,
        **{"seed": 0, **options},
    )
    return result, elapsed


def _their_weights(result: dict, channels: tuple[str, ...], column: str) -> np.ndarray:
    frame = result["removal_effects"]
    # Named removal_effect without var_value, removal_effects_conversion with it.
    if column == "conversion" and "removal_effect" in frame:
        return _their_shares(frame, "removal_effect", channels)
    return _their_shares(frame, f"removal_effects_{column}", channels)


def simulate_weights(journeys: Journeys, *, walks: int, blocks: int, seed: int = 0):
    """Removal-effect weights by simulation, written here apart from the engine: random
    walks from START through the order-1 chain of observed transitions; RE(c) is the share
    of walks reaching CONVERSION that pass through c (removing c ends exactly those).
    Returns the weights and their standard errors (from the spread of `blocks` blocks)."""
    k = len(journeys.channels)
    start, conversion, null = k, k + 1, k + 2
    width = k + 3
    touches = journeys.touches.astype(np.int64)
    first = journeys.offsets[:-1][journeys.lengths > 0]
    previous = np.empty_like(touches)
    previous[1:] = touches[:-1]
    previous[first] = start
    last = touches[journeys.offsets[1:][journeys.lengths > 0] - 1]
    end = np.where(journeys.converted[journeys.lengths > 0], conversion, null)
    keys = np.concatenate([previous * width + touches, last * width + end])
    counts = np.bincount(keys, minlength=width * width).reshape(width, width).astype(float)
    rows = counts.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0), 1)
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(blocks):
        n = walks // blocks
        state = np.full(n, start)
        seen = np.zeros((n, k), dtype=bool)
        walking = np.arange(n)
        converted = np.zeros(n, dtype=bool)
        while len(walking):
            step = (rng.random(len(walking))[:, None] > cumulative[state[walking]]).sum(axis=1)
            state[walking] = step
            on = step < k
            seen[walking[on], step[on]] = True
            converted[walking[step == conversion]] = True
            walking = walking[on]
        effects = seen[converted].mean(axis=0)
        estimates.append(effects / effects.sum())
    estimates = np.array(estimates)
    return estimates.mean(axis=0), estimates.std(axis=0, ddof=1) / math.sqrt(blocks)


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

    # Ours: markov (standard) as the markov model the runs call (shares, then
    # channel_totals), markov_journey the same way; removal_effects (which solves the
    # chain again) only for the comparison of weights.
    (standard, standard_value), our_time = _timed(
        lambda: channel_totals(journeys, markov_shares(journeys))
    )
    (split, _), split_time = _timed(
        lambda: channel_totals(journeys, markov_journey_shares(journeys))
    )
    credit = markov_credit(journeys)
    effects = removal_effects(journeys)
    our_weights = _share(np.array([effects[c] for c in channels]))
    value_effects = value_removal_effects(journeys)
    our_value_weights = _share(np.array([value_effects[c] for c in channels]))
    merged = removal_effects(_merge_repeats(journeys))
    print(
        "    ours with consecutive repeats merged, as their markov_model does: removal "
        f"effects move by at most {max(abs(merged[c] - effects[c]) for c in channels):.1e}; "
        f"touches carry the standard totals exactly: {'yes' if credit.carried_exactly else 'NO'}"
    )
    print(f"    markov_journey         ours {split_time:7.2f} s")
    runs = {}
    for label, options in CA_MARKOV_RUNS.items():
        runs[label], their_time = _markov_run(ca, paths, **options)
        print(
            f"    markov ({label + ')':<14} ours {our_time:7.2f} s   theirs {their_time:7.2f} s "
            f"({their_time + aggregation:.2f} s with aggregation)"
        )
    seeded = [runs["conv_par 0.01"]] + [
        _markov_run(ca, paths, conv_par=0.01, seed=seed)[0] for seed in CA_SEEDS[1:]
    ]
    their_shares = np.array(
        [_their_shares(r["result"], "total_conversions", channels) for r in seeded]
    )
    their_weights = np.array([_their_weights(r, channels, "conversion") for r in seeded])
    # Their seeds' noise: the standard deviation of one run over the seeds.
    mean_shares, mean_weights = their_shares.mean(axis=0), their_weights.mean(axis=0)
    sd_shares = their_shares.std(axis=0, ddof=1)
    ours_standard, ours_split = _share(standard), _share(split)
    defaults = _their_shares(runs["defaults"]["result"], "total_conversions", channels)
    with_value = runs["+ var_value"]
    their_value = _their_shares(with_value["result"], "total_conversion_value", channels)
    their_value_weights = _their_weights(with_value, channels, "conversion_value")
    (simulated, simulated_error), simulation_time = _timed(
        simulate_weights, journeys, walks=SIMULATED_WALKS, blocks=SIMULATION_BLOCKS
    )

    print(
        f"    per channel, shares of all conversions: removal-effect weights (ours exact; "
        f"an independent simulation here, {SIMULATED_WALKS:,} walks, {simulation_time:.1f} s; "
        f"theirs at conv_par=0.01, the mean of {len(CA_SEEDS)} seeds and one run's sd), "
        f"credited shares (our markov, theirs at conv_par=0.01 and with its defaults, our "
        f"markov_journey), and shares of value (our markov, theirs with var_value, our "
        f"exact value removal-effect weights):"
    )
    print(
        f"      {'channel':<11} {'RE w':>7} {'sim':>7} {'theirs':>7} {'sd':>6} | "
        f"{'markov':>7} {'theirs':>7} {'default':>7} {'journey':>7} | "
        f"{'value':>7} {'theirs':>7} {'valueRE':>7}"
    )
    for i, name in enumerate(channels):
        print(
            f"      {name:<11} {our_weights[i]:7.4f} {simulated[i]:7.4f} "
            f"{mean_weights[i]:7.4f} {sd_shares[i]:6.4f} | {ours_standard[i]:7.4f} "
            f"{mean_shares[i]:7.4f} {defaults[i]:7.4f} {ours_split[i]:7.4f} | "
            f"{_share(standard_value)[i]:7.4f} {their_value[i]:7.4f} "
            f"{our_value_weights[i]:7.4f}"
        )
    gap = np.abs(ours_standard - mean_shares)
    print(
        f"    markov (standard) credits the removal-effect weights: largest difference "
        f"{_largest(ours_standard, our_weights, channels)}"
    )
    print(
        f"    markov (standard) vs theirs at conv_par=0.01 (mean of {len(CA_SEEDS)} seeds): "
        f"largest difference {_largest(ours_standard, mean_shares, channels)}, at most "
        f"{np.max(gap / mean_shares):.1%} of a channel's share (their conv_par: 1% "
        f"variation between folds); one run's sd over the seeds up to {sd_shares.max():.4f}"
    )
    print(
        f"    the independent simulation vs ours: largest difference "
        f"{_largest(simulated, our_weights, channels)}, at most "
        f"{np.max(np.abs(simulated - our_weights) / simulated_error):.1f} of its standard "
        f"errors (up to {simulated_error.max():.1e}); vs theirs: "
        f"{_largest(simulated, mean_weights, channels)}"
    )
    print(
        f"    markov (standard) vs their defaults: {_largest(ours_standard, defaults, channels)}"
        f"; markov_journey vs their conv_par=0.01 mean: "
        f"{_largest(ours_split, mean_shares, channels)} (by design)"
    )
    value_gap = _largest(_share(standard_value), their_value, channels)
    value_weight_gap = _largest(our_value_weights, their_value_weights, channels)
    print(
        f"    value: our markov vs their var_value {value_gap} (by design: theirs splits "
        f"value by value removal effects); our exact value removal-effect weights vs "
        f"theirs {value_weight_gap}"
    )


def load_mam() -> tuple[ModuleType | None, str]:
    """marketing-attribution-models' MAM class's module and its version, or None and why."""
    try:
        import mam.core
    except ImportError as error:
        return None, str(error)
    from importlib.metadata import version

    return mam.core, version("marketing-attribution-models")


def textbook_shapley(players: list[int], worth) -> dict[int, float]:
    """phi_i = sum over S not holding i of |S|! (n - |S| - 1)! / n! (v(S + i) - v(S)),
    over every coalition; `worth` takes a coalition as a bitmask of the players."""
    n = len(players)
    weight = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    values = {}
    for i, player in enumerate(players):
        others = [p for j, p in enumerate(players) if j != i]
        total = 0.0
        for subset in range(1 << (n - 1)):
            mask = 0
            for bit, p in enumerate(others):
                if subset >> bit & 1:
                    mask |= 1 << p
            total += weight[subset.bit_count()] * (worth(mask | 1 << player) - worth(mask))
        values[player] = total
    return values


def _channel_sets(journeys: Journeys) -> np.ndarray:
    """Each journey's set of channels as a bitmask."""
    masks = np.zeros(journeys.count, dtype=np.int64)
    journey = journeys.journey_of_touch()
    np.bitwise_or.at(masks, journey, np.left_shift(1, journeys.touches.astype(np.int64)))
    return masks


def _our_game_by_the_textbook(journeys: Journeys) -> np.ndarray:
    """The Shapley values of v(S) = conversions of journeys whose channels lie in S."""
    n = len(journeys.channels)
    sets, counts = np.unique(_channel_sets(journeys)[journeys.converted], return_counts=True)
    coalitions = np.arange(1 << n, dtype=np.int64)
    worth = np.zeros(1 << n)
    for mask, count in zip(sets, counts, strict=True):
        worth[(coalitions & mask) == mask] += count
    values = textbook_shapley(list(range(n)), lambda s: worth[s])
    return np.array([values[i] for i in range(n)])


def _mam_game_by_the_textbook(journeys: Journeys) -> np.ndarray:
    """run_shapley(max_size=None) as MAM defines it: per converting channel set C, the
    Shapley value over C's channels of v(S) = conversion rate of the journeys whose
    channel set is exactly S (0 if none converted), times C's journeys, scaled to C's
    conversions; summed over the sets."""
    n = len(journeys.channels)
    masks = _channel_sets(journeys)
    sets, inverse = np.unique(masks, return_inverse=True)
    seen = np.bincount(inverse, minlength=len(sets))
    converted = np.bincount(inverse, weights=journeys.converted, minlength=len(sets))
    rate = {int(m): c / s for m, c, s in zip(sets, converted, seen, strict=True) if c > 0}
    totals = np.zeros(n)
    for mask, conversions, journeys_with in zip(sets, converted, seen, strict=True):
        if conversions == 0:
            continue
        players = [c for c in range(n) if mask >> c & 1]
        values = textbook_shapley(players, lambda s: rate.get(s, 0.0))
        scaled = np.array([values[p] for p in players]) * journeys_with
        if scaled.sum() != 0:
            totals[players] += scaled / scaled.sum() * conversions
    return totals


def compare_shapley(journeys: Journeys, mam_core: ModuleType, version: str) -> None:
    import polars as pl

    channels = journeys.channels
    (ours, _), our_time = _timed(lambda: channel_totals(journeys, shapley_shares(journeys)))
    enumerated, enumeration_time = _timed(shapley_values, journeys)
    textbook, textbook_time = _timed(_our_game_by_the_textbook, journeys)
    paths = aggregate(journeys)
    converting, failing = paths[paths.total_conversions > 0], paths[paths.total_null > 0]
    frame = pl.DataFrame(
        {
            "journey": list(converting.path) + list(failing.path),
            "has_conversion": [True] * len(converting) + [False] * len(failing),
            "occurrences": list(converting.total_conversions) + list(failing.total_null),
        }
    )

    def run_mam():
        model = mam_core.MAM(
            df=frame,
            format_type="grouped_journey",
            channels_colname="journey",
            journey_with_conv_colname="has_conversion",
            occurrences_colname="occurrences",
        )
        result = model.run_shapley(max_size=None).to_pandas()
        return result.set_index("channels")["attribution"].reindex(list(channels)).fillna(0.0)

    theirs, their_time = _timed(run_mam)
    theirs = theirs.to_numpy(dtype=np.float64)
    their_game, their_game_time = _timed(_mam_game_by_the_textbook, journeys)
    print(f"  Shapley vs marketing-attribution-models {version} (run_shapley, max_size=None)")
    print(
        f"    ours (closed form) {our_time:6.2f} s, ours enumerated (shapley_values) "
        f"{enumeration_time:6.2f} s, textbook brute force of our game {textbook_time:6.2f} s; "
        f"theirs {their_time:6.2f} s, textbook brute force of their game "
        f"{their_game_time:6.2f} s"
    )
    print(
        f"      {'channel':<11} {'ours':>7} {'enum':>7} {'textbk':>7} | "
        f"{'theirs':>7} {'textbk':>7}   (shares of all conversions)"
    )
    enumerated = np.array([enumerated.values[c] for c in channels])
    for i, name in enumerate(channels):
        print(
            f"      {name:<11} {_share(ours)[i]:7.4f} {_share(enumerated)[i]:7.4f} "
            f"{_share(textbook)[i]:7.4f} | {_share(theirs)[i]:7.4f} "
            f"{_share(their_game)[i]:7.4f}"
        )
    print(
        f"    ours vs the textbook Shapley of our game: largest difference "
        f"{np.max(np.abs(ours - textbook)):.1e} conversions; theirs vs the textbook "
        f"Shapley of their game {np.max(np.abs(theirs - their_game)):.1e}; ours vs theirs "
        f"{_largest(_share(ours), _share(theirs), channels)} in credited share (by design)"
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
    mam_core, mam_version = load_mam()
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
        if mam_core is None:
            print(
                f"  marketing-attribution-models not installed: pip install {MAM} ({mam_version})"
            )
        else:
            compare_shapley(journeys, mam_core, mam_version)


if __name__ == "__main__":
    main()
