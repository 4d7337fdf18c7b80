"""Mutation testing of the pure engines, bounded in time.

    python scripts/mutation.py                       # the default modules, 10 minutes at most
    python scripts/mutation.py --budget 120 attribution/engine/markov.py
    python scripts/mutation.py --functions _solve_iteratively _closest_factors \
        --budget 600 attribution/engine/markov.py   # only these functions' mutants

mutmut (configured under [tool.mutmut] in pyproject.toml) changes one thing at a time
in the engines' code — a `<` into `<=`, a constant, a `-` into `+`, an argument dropped —
and runs the tests that call the changed function; a mutant the tests still pass on
("survived") is a behaviour nothing checks. The run happens in a throwaway copy of the
repository (mutmut writes its `mutants/` folder there), on the embedded default
(SQLite, eager tasks), so the checkout stays as it was.

What is printed: per module, mutants killed, survived, timed out, with no test calling
their function ("no tests"), and not reached within the module's share of the budget;
the score (killed / (killed + survived)), and the diff of every survivor.
The figures of the last run are in docs/testing.md. Nothing is asserted: a survivor is
read by a person, who either adds the missing test or explains why the mutant is
equivalent (it changes nothing observable).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODULES = [
    "attribution/engine/heuristics.py",
    "attribution/engine/markov.py",
    "attribution/engine/shapley.py",
    "identity/engine/golden.py",
    "identity/engine/names.py",
    "identity/engine/normalize.py",
]
# mutmut's result words, as `mutmut results --all true` prints them.
KILLED = {"killed"}
SURVIVED = {"survived"}
DECIDED = {"timeout", "no tests"}  # counted in columns of their own
RESULT_LINE = re.compile(r"^\s*(?P<name>[\w.]+__mutmut_\d+): (?P<status>.+)$")


def _copy_repository(into: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / name.decode()
        if source.is_file():
            target = into / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _limit_to(pyproject: Path, modules: list[str]) -> None:
    """Mutate only `modules` (mutmut's only_mutate), leaving the rest of its config."""
    text = pyproject.read_text()
    listed = ", ".join(f'"{module}"' for module in modules)
    text = text.replace("[tool.mutmut]\n", f"[tool.mutmut]\nonly_mutate = [{listed}]\n", 1)
    pyproject.write_text(text)


def _mutmut(workdir: Path, *args: str, **kwargs) -> subprocess.Popen:
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.setdefault("DJANGO_SECRET_KEY", "mutation-testing-only-" + "x" * 40)
    return subprocess.Popen([str(mutmut), *args], cwd=workdir, env=env, **kwargs)


def _module_of(mutant: str) -> str:
    # Functions are named `module.x_function__mutmut_N`, methods `module.xǁClassǁmethod__...`.
    return re.split(r"\.x(?:_|ǁ)", mutant, maxsplit=1)[0]


def _patterns(module: str, functions: list[str]) -> list[str]:
    """mutmut's names for a module's mutants, or for those of some of its functions
    (a method is named Class.method)."""
    dotted = module.removesuffix(".py").replace("/", ".")
    if not functions:
        return [f"{dotted}.*"]
    return [
        f"{dotted}.x{'ǁ'.join(['', *name.split('.')]) if '.' in name else '_' + name}__mutmut_*"
        for name in functions
    ]


def _statuses(workdir: Path, wanted: list[str]) -> dict[str, str]:
    """mutmut's result for each mutant matching one of the patterns `wanted`."""
    listing = _mutmut(workdir, "results", "--all", "true", stdout=subprocess.PIPE, text=True)
    out, _ = listing.communicate()
    statuses: dict[str, str] = {}
    for line in out.splitlines():
        found = RESULT_LINE.match(line)
        if found and any(fnmatch.fnmatchcase(found["name"], p) for p in wanted):
            statuses[found["name"]] = found["status"].strip()
    return statuses


def _run_modules(
    workdir: Path, modules: list[str], budget: float, functions: list[str]
) -> list[str]:
    """mutmut over each module in turn; the modules whose mutmut ended with an error."""
    started = time.monotonic()
    stopped: list[str] = []
    # Each module gets its share of what is left of the budget, so every one of them is
    # reached and a module done early leaves its time to the next; what is left at the end
    # goes back to the modules cut short, naming the mutants they did not reach (mutmut
    # runs every mutant a pattern names again, decided or not).
    waiting = {module: _patterns(module, functions) for module in modules}
    with open(workdir / "mutmut.log", "wb") as log:
        while waiting and budget - (time.monotonic() - started) > 60:
            cut_short = {}
            for done, (module, patterns) in enumerate(waiting.items()):
                left = budget - (time.monotonic() - started)
                share = max(left, 0) / (len(waiting) - done)
                process = _mutmut(workdir, "run", *patterns, stdout=log, stderr=log)
                try:
                    process.wait(timeout=share)
                except subprocess.TimeoutExpired:
                    cut_short[module] = _patterns(module, functions)
                    process.send_signal(signal.SIGINT)
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                else:
                    if process.returncode:
                        stopped.append(f"{module}: mutmut exited with {process.returncode}")
            waiting = {}
            for module, patterns in cut_short.items():
                undecided = [
                    name
                    for name, status in _statuses(workdir, patterns).items()
                    if status not in KILLED | SURVIVED | DECIDED
                ]
                if undecided:
                    waiting[module] = undecided
    return stopped


def run(modules: list[str], budget: float, functions: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="omnitrail-mutation-") as tmp:
        workdir = Path(tmp)
        _copy_repository(workdir)
        _limit_to(workdir / "pyproject.toml", modules)
        started = time.monotonic()
        wanted = [pattern for module in modules for pattern in _patterns(module, functions or [])]
        stopped = _run_modules(workdir, modules, budget, functions or [])
        elapsed = time.monotonic() - started
        statuses = _statuses(workdir, wanted)
        if not statuses:
            print((workdir / "mutmut.log").read_text(errors="replace")[-3000:])
            print("mutmut produced no results (its log is above)", file=sys.stderr)
            return 1
        per_module: dict[str, Counter[str]] = defaultdict(Counter)
        for name, status in statuses.items():
            per_module[_module_of(name)][status] += 1
        print(f"mutation run over {', '.join(modules)}: {elapsed:.0f} s (budget {budget:.0f} s)")
        header = ("module", "killed", "survived", "timeout", "no tests", "not run", "score")
        print(f"{header[0]:40} " + " ".join(f"{word:>8}" for word in header[1:]))
        total = Counter[str]()
        for module, counts in sorted(per_module.items()):
            total.update(counts)
            _print_row(module, counts)
        _print_row("all", total)
        # What "not run" holds: mutmut's own words for the mutants it did not decide.
        undecided = Counter(
            {s: n for s, n in total.items() if s not in KILLED | SURVIVED | DECIDED}
        )
        if undecided:
            print("not run: " + ", ".join(f"{n} {s}" for s, n in undecided.most_common()))
        if stopped:
            print("\n".join(stopped) + "; the end of mutmut's log:")
            print((workdir / "mutmut.log").read_text(errors="replace")[-2000:])
        survivors = sorted(name for name, status in statuses.items() if status in SURVIVED)
        if survivors:
            print(f"\nsurvivors ({len(survivors)}):")
        # One process for every diff: `mutmut show` per survivor starts mutmut each time
        # (seconds apiece on a busy machine).
        for name, changed in _diffs(workdir, survivors).items():
            print(f"  {name}")
            for line in changed:
                print(f"      {line.strip()[:110]}")
    return 0


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
diffs = {}
for name, path in json.load(sys.stdin):
    diff = get_diff_for_mutant(name, path=path)
    diffs[name] = [
        line for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
print(json.dumps(diffs))
"""


def _diffs(workdir: Path, survivors: list[str]) -> dict[str, list[str]]:
    """Each survivor's changed lines (mutmut's own diff of the mutant)."""
    if not survivors:
        return {}
    named = [(name, _module_of(name).replace(".", "/") + ".py") for name in survivors]
    found = subprocess.run(
        [sys.executable, "-c", _DIFFS],
        cwd=workdir,
        input=json.dumps(named),
        capture_output=True,
        text=True,
        check=True,
    )
    diffs: dict[str, list[str]] = json.loads(found.stdout)
    return diffs


def _print_row(module: str, counts: Counter[str]) -> None:
    killed = sum(counts[s] for s in KILLED)
    survived = sum(counts[s] for s in SURVIVED)
    timeout, untested = counts["timeout"], counts["no tests"]
    seen = KILLED | SURVIVED | DECIDED
    not_run = sum(n for status, n in counts.items() if status not in seen)
    score = f"{killed / (killed + survived):.1%}" if killed + survived else "—"
    figures = (killed, survived, timeout, untested, not_run, score)
    print(f"{module:40} " + " ".join(f"{figure:>8}" for figure in figures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=DEFAULT_MODULES, help="files to mutate")
    parser.add_argument("--budget", type=float, default=600, help="seconds (default 600)")
    parser.add_argument(
        "--functions", nargs="+", default=[], help="mutate only these functions (Class.method)"
    )
    args = parser.parse_args()
    return run(args.modules, args.budget, args.functions)


if __name__ == "__main__":
    sys.exit(main())
