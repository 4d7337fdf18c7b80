"""Incremental matching with the existing records kept between runs (DuckDB).

`predict_new_against_existing` cleans every existing record, counts its term
frequencies and blocks against all of them on each call: at 1,000,000 existing records
that is seconds of work that does not depend on the few new records. `KeptRecords`
does it once: the existing records cleaned, in a DuckDB table of their own, with the
counts of every value of the columns the model adjusts for term frequency (and of the
emails and phones, for placeholders). A run then

- cleans only the new records, and blanks their emails and phones that the counts
  (existing and new together) make placeholders;
- picks the existing records that share a blocking key with a new one (the blocking
  rules themselves, as semi-joins: no other existing record could be compared);
- scores those against the new records and the new records among themselves with
  Splink's `predict_between` and `predict_within`, term frequencies from the counts of
  everyone (existing and new), as `predict_new_against_existing` computes them;
- and, with `add`, keeps the new records as existing ones for the next run.

The pairs are the ones `predict_new_against_existing` finds on the same records. A kept
set belongs to one model: `fingerprint` tells which, and a caller keeps a new one when
the model or the existing records change other than by `add`.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from splink import DuckDBAPI, Linker
from splink.internals.splink_dataframe import SplinkDataFrame
from sqlglot import exp

from identity.engine.matching.backends import _MEMORY_LIMIT, _quiet_splink, check_model
from identity.engine.matching.cleaning import PLACEHOLDER_MIN_PROFILES, prepare_records
from identity.engine.matching.comparisons import model_rules, narrowed_rules
from identity.engine.matching.pairs import ScoredPairs
from identity.engine.matching.prediction import (
    _pairs_from_table,
    _prediction_columns,
    _splink_model,
    _term_frequency_columns,
)

# Emails and phones on more records than PLACEHOLDER_MIN_PROFILES are treated as missing.
_PLACEHOLDER_COLUMNS = ("email", "phone")


class _RecordingDuckDBAPI(DuckDBAPI):
    """Splink's DuckDB API, writing down the SQL it runs while `recording` is a list."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        super().__init__(connection=connection)
        self.recording: list[str] | None = None

    def _execute_sql_against_backend(self, final_sql: str) -> duckdb.DuckDBPyRelation:
        if self.recording is not None:
            self.recording.append(final_sql)
        return super()._execute_sql_against_backend(final_sql)


_CREATE_TABLE = re.compile(r"CREATE TABLE (\S+) AS\b")


@dataclass(frozen=True)
class _Plan:
    """The SQL of one Splink prediction, as Splink generated it: the tables it creates
    (in order, each `CREATE TABLE name AS ...`), the one holding the blocked pairs (its
    rows are the comparisons) and the one holding the scored pairs."""

    statements: tuple[str, ...]
    tables: tuple[str, ...]
    blocked: str
    predictions: str


def model_fingerprint(model: dict[str, Any]) -> str:
    """A short digest of a model: kept records are valid for one model only."""
    text = json.dumps(_splink_model(model), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def incremental_blocking_rules(model: dict[str, Any]) -> tuple[str, ...]:
    """The model's blocking rules (as SQL on l and r) for incremental runs: the
    postcode alone always narrowed (comparisons.narrowed_rules). A rule on the postcode
    alone brings a new record together with every kept record of its postcode: on the
    labelled generator's 1,000,000 records (1,600 a postcode) that is 1,057,088
    comparisons for 1,000 new records, nine in ten of the run's time; narrowed, 116,278
    comparisons and the same 773 pairs at >= 0.80."""
    return tuple(narrowed_rules(model_rules(model)))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rule_keys(rule: str) -> tuple[list[str], list[str]] | None:
    """A blocking rule made of equalities between an expression of the left record
    and one of the right (`l.x = r.x AND substr(l.y, 1, 2) = substr(r.y, 1, 2)`, or
    `l.a = r.b AND l.b = r.a`): the expressions of each side, unqualified. None for a
    rule of another shape."""
    try:
        tree = sqlglot.parse_one(rule, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    while isinstance(tree, exp.Paren):
        tree = tree.this
    terms = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    left: list[str] = []
    right: list[str] = []
    for term in terms:
        while isinstance(term, exp.Paren):
            term = term.this
        if not isinstance(term, exp.EQ):
            return None
        one, other = term.left, term.right
        tables = [{column.table for column in side.find_all(exp.Column)} for side in (one, other)]
        if tables == [{"r"}, {"l"}]:
            one, other = other, one
        elif tables != [{"l"}, {"r"}]:
            return None
        left.append(_unqualified(one))
        right.append(_unqualified(other))
    return left, right


def _unqualified(expression: exp.Expr) -> str:
    expression = expression.copy()
    for column in expression.find_all(exp.Column):
        column.set("table", None)
    return expression.sql(dialect="duckdb")


def _key_sql(expressions: list[str]) -> str:
    """One 64-bit key of a record for a rule (0: the record has no key for it)."""
    missing = " OR ".join(f"({expression}) IS NULL" for expression in expressions)
    return f"CASE WHEN {missing} THEN 0 ELSE hash({', '.join(expressions)}) END"


class _SortedCounts:
    """Counts of values by their 64-bit hash, sorted for lookups."""

    def __init__(self, hashes: np.ndarray, counts: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.counts = counts[order]

    def get(self, hashes: np.ndarray) -> np.ndarray:
        position = np.searchsorted(self.hashes, hashes)
        inside = position < len(self.hashes)
        found = np.zeros(len(hashes), dtype=bool)
        found[inside] = self.hashes[position[inside]] == hashes[inside]
        counts = np.zeros(len(hashes), dtype=np.int64)
        counts[found] = self.counts[position[found]]
        return counts

    def add(self, hashes: np.ndarray, deltas: np.ndarray) -> None:
        position = np.searchsorted(self.hashes, hashes)
        inside = position < len(self.hashes)
        found = np.zeros(len(hashes), dtype=bool)
        found[inside] = self.hashes[position[inside]] == hashes[inside]
        np.add.at(self.counts, position[found], deltas[found])
        if not found.all():
            fresh = _SortedCounts(
                np.concatenate([self.hashes, hashes[~found]]),
                np.concatenate([self.counts, deltas[~found]]),
            )
            self.hashes, self.counts = fresh.hashes, fresh.counts


class _SortedKeys:
    """Each kept row's key for one blocking rule, sorted, with the row it belongs to."""

    def __init__(self, keys: np.ndarray, first_row: int = 0) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)
        self.extend(keys, first_row)

    def extend(self, keys: np.ndarray, first_row: int) -> None:
        rows = np.arange(first_row, first_row + len(keys), dtype=np.int64)
        keep = keys != 0
        keys = np.concatenate([self.keys, keys[keep]])
        rows = np.concatenate([self.rows, rows[keep]])
        order = np.argsort(keys, kind="stable")
        self.keys, self.rows = keys[order], rows[order]

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        keys = np.unique(keys[keys != 0])
        low = np.searchsorted(self.keys, keys, side="left")
        high = np.searchsorted(self.keys, keys, side="right")
        sizes = high - low
        if not sizes.sum():
            return np.empty(0, dtype=np.int64)
        # The positions low..high-1 of every key, in one vector.
        starts = np.repeat(low - np.cumsum(sizes) + sizes, sizes)
        rows: np.ndarray = self.rows[starts + np.arange(sizes.sum())]
        return rows


class KeptRecords:
    """The existing records of incremental runs, cleaned, counted and indexed once;
    `predict_new` scores new records against them, `add` keeps the new ones. Not
    shared between threads.

    In memory: the cleaned records (Arrow), for each blocking rule each record's key
    (a 64-bit hash of what the rule compares) sorted with its row, and the counts of
    the values of the term-frequency and placeholder columns (by hash, sorted). A run
    looks the new records' keys up (binary search, no scan of the kept records) and
    hands Splink only the kept records that share one.
    """

    def __init__(
        self, existing: pa.Table, model: dict[str, Any], *, memory_limit: str | None = None
    ) -> None:
        check_model(model, "duckdb")
        if memory_limit is not None and not _MEMORY_LIMIT.match(memory_limit):
            raise ValueError(f"memory_limit must look like '2GB', got {memory_limit!r}")
        self.model = model
        self.fingerprint = model_fingerprint(model)
        self.timings: dict[str, float] = {}  # the last run's steps, in seconds
        self._tf_columns = _term_frequency_columns(model)
        self._counted = sorted(set(self._tf_columns) | set(_PLACEHOLDER_COLUMNS))
        self._rules = incremental_blocking_rules(model)
        self._keys_sql = [_rule_keys(rule) for rule in self._rules]
        self._spill = tempfile.TemporaryDirectory(prefix="omnitrail-kept-records-")
        self._con = duckdb.connect()
        if memory_limit is not None:
            self._con.execute(f"SET memory_limit = '{memory_limit}'")
        self._con.execute(f"SET temp_directory = '{self._spill.name}'")

        records = prepare_records(existing)
        self._counts = {
            column: _SortedCounts(np.empty(0, np.uint64), np.empty(0, np.int64))
            for column in self._counted
        }
        self._totals = dict.fromkeys(self._tf_columns, 0)  # non-placeholder values
        self._count_values(records, sign=1)
        records = self._blanked(records, {})
        self._table = records.combine_chunks()
        self._ids = _SortedCounts(
            self._table["unique_id"].to_numpy().astype(np.uint64),
            np.arange(self._table.num_rows, dtype=np.int64),
        )
        self._alive = np.ones(self._table.num_rows, dtype=bool)
        keys = self._keys(self._table, side=0)
        self._index = [_SortedKeys(column) if column is not None else None for column in keys]
        self._unindexed = [
            rule for rule, sides in zip(self._rules, self._keys_sql, strict=True) if not sides
        ]
        self._run_tables(self._table.slice(0, 0), self._table.slice(0, 0))
        self._linker, self._frames = self._make_linker()
        # Splink's SQL for each (threshold, within) prediction: written once, run by
        # every run (generating it again costs more than running it on a run's tables).
        self._plans: dict[tuple[float, bool], _Plan] = {}

    @property
    def count(self) -> int:
        return int(self._alive.sum())

    def close(self) -> None:
        self._con.close()
        self._spill.cleanup()

    # -- hashing, counts, placeholders -----------------------------------------------------

    def _sql(self, table: pa.Table, select: str) -> dict[str, np.ndarray]:
        """`select` over `table` (as `t`), in the table's row order, as numpy arrays."""
        self._con.register("t", table)
        try:
            result = self._con.execute(f"SELECT {select} FROM t").fetchnumpy()
        finally:
            self._con.unregister("t")
        return {name: np.asarray(values) for name, values in result.items()}

    def _hashes(self, table: pa.Table, columns: list[str]) -> dict[str, np.ndarray]:
        """The 64-bit hash of each row's value of each of `columns` (0 when null), in
        one query."""
        select = ", ".join(
            f"CASE WHEN {_quoted(column)} IS NULL THEN 0 ELSE hash({_quoted(column)}) END "
            f"AS h{number}"
            for number, column in enumerate(columns)
        )
        found = self._sql(table, select)
        return {column: found[f"h{n}"].astype(np.uint64) for n, column in enumerate(columns)}

    def _keys(self, table: pa.Table, *, side: int) -> list[np.ndarray | None]:
        """Each row's key for each blocking rule, as the left (0) or right (1) record."""
        select = [
            f"{_key_sql(sides[side])} AS k{number}"
            for number, sides in enumerate(self._keys_sql)
            if sides is not None
        ]
        found = self._sql(table, ", ".join(select)) if select else {}
        return [
            found[f"k{number}"].astype(np.uint64) if sides is not None else None
            for number, sides in enumerate(self._keys_sql)
        ]

    def _count_values(self, records: pa.Table, *, sign: int) -> None:
        """Add (sign 1) or take away (-1) the records' values from the counts."""
        for column, hashes in self._hashes(records, self._counted).items():
            hashes = hashes[hashes != 0]
            if not len(hashes):
                continue
            values, counts = np.unique(hashes, return_counts=True)
            deltas = sign * counts.astype(np.int64)
            if column in self._totals:
                before = self._counts[column].get(values)
                after = before + deltas
                self._totals[column] += int(
                    self._countable(column, after).sum() - self._countable(column, before).sum()
                )
            self._counts[column].add(values, deltas)

    @staticmethod
    def _countable(column: str, counts: np.ndarray) -> np.ndarray:
        """The counts that count towards the total (a placeholder's do not)."""
        if column in _PLACEHOLDER_COLUMNS:
            return np.where(counts <= PLACEHOLDER_MIN_PROFILES, counts, 0)
        return counts

    def _blanked(self, records: pa.Table, extra: dict[str, _SortedCounts]) -> pa.Table:
        """The records with their emails and phones on more than PLACEHOLDER_MIN_PROFILES
        records (kept, and `extra` ones: a run's) blanked."""
        for column, hashes in self._hashes(records, list(_PLACEHOLDER_COLUMNS)).items():
            counts = self._counts[column].get(hashes)
            if column in extra:
                counts = counts + extra[column].get(hashes)
            common = pa.array((counts > PLACEHOLDER_MIN_PROFILES) & (hashes != 0))
            if pc.any(common).as_py():
                index = records.schema.get_field_index(column)
                blanked = pc.if_else(common, pa.scalar(None, pa.string()), records[column])
                records = records.set_column(index, column, blanked)
        return records

    # -- a run -----------------------------------------------------------------------------

    def _replaced_rows(self, ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """The rows of kept (alive) records with these ids."""
        wanted = np.asarray(pc.cast(ids, pa.int64())).astype(np.uint64)
        position = np.searchsorted(self._ids.hashes, wanted)
        inside = position < len(self._ids.hashes)
        found = np.zeros(len(wanted), dtype=bool)
        found[inside] = self._ids.hashes[position[inside]] == wanted[inside]
        rows: np.ndarray = self._ids.counts[position[found]]
        alive: np.ndarray = rows[self._alive[rows]]
        return alive

    def _run_tables(self, new: pa.Table, candidates: pa.Table) -> None:
        self._con.register("run_new", new)
        self._con.register("run_candidates", candidates)
        self._registered = (new, candidates)

    def _make_linker(self) -> tuple[Linker, tuple[SplinkDataFrame, SplinkDataFrame]]:
        """One linker for every run, on the names each run points at its own tables
        (run_new, run_candidates, run_tf_<column>): building one costs more than a
        run's SQL."""
        db_api = self._db_api = _RecordingDuckDBAPI(self._con)
        frames = (
            db_api.register("run_candidates", dataset_display_name="kept_records"),
            db_api.register("run_new", dataset_display_name="new_records"),
        )
        for column in self._tf_columns:
            self._con.register(
                f"run_tf_{column}",
                pa.table(
                    {column: pa.array([], pa.string()), f"tf_{column}": pa.array([], pa.float64())}
                ),
            )
        linker = Linker(frames[1], _splink_model(self.model), log_level=None)
        for column in self._tf_columns:
            linker.table_management.register_term_frequency_lookup(
                db_api.register(f"run_tf_{column}", dataset_display_name=f"tf_{column}"),
                column,
            )
        return linker, frames

    def _candidate_rows(self, new: pa.Table, replaced: np.ndarray) -> np.ndarray:
        """The rows of kept records that share a blocking key with a new record (and
        that no new record replaces)."""
        keys = self._keys(new, side=1)
        found = [
            index.rows_of(column)
            for index, column in zip(self._index, keys, strict=True)
            if index is not None and column is not None
        ]
        for rule in self._unindexed:  # a rule of another shape: a join over everyone
            self._con.register("kept_all", self._table)
            self._con.register("run_new_all", new)
            try:
                rows = self._con.execute(
                    "SELECT DISTINCT l.row FROM (SELECT *, row_number() OVER () - 1 AS row "
                    f"FROM kept_all) l SEMI JOIN run_new_all r ON ({rule})"
                ).fetchnumpy()["row"]
            finally:
                self._con.unregister("kept_all")
                self._con.unregister("run_new_all")
            found.append(np.asarray(rows, dtype=np.int64))
        chosen = np.zeros(len(self._alive), dtype=bool)
        for rows in found:
            chosen[rows] = True
        chosen &= self._alive
        chosen[replaced] = False
        candidates: np.ndarray = np.flatnonzero(chosen)
        return candidates

    def _term_frequencies(
        self, new: pa.Table, candidates: pa.Table, delta: dict[str, _SortedCounts]
    ) -> None:
        """Term-frequency tables (Splink's format: the value and tf_<column>) for the
        values the candidates and new records carry, from the counts of everyone (the
        kept counts changed by the run's `delta`)."""
        for column in self._tf_columns:
            values = pc.unique(
                pa.chunked_array(
                    [new[column].combine_chunks(), candidates[column].combine_chunks()]
                ).drop_null()
            )
            hashes = self._hashes(pa.table({column: values}), [column])[column]
            before = self._counts[column].get(hashes)
            after = before + delta[column].get(hashes)
            total = self._totals[column] + int(
                self._countable(column, after).sum() - self._countable(column, before).sum()
            )
            counts = self._countable(column, after)
            keep = counts > 0
            frequencies = counts[keep] / total if total else counts[keep].astype(float)
            self._con.register(
                f"run_tf_{column}",
                pa.table({column: values.filter(pa.array(keep)), f"tf_{column}": frequencies}),
            )

    def _delta(self, new: pa.Table, replaced: pa.Table) -> dict[str, _SortedCounts]:
        """How the counts change once the new records replace theirs."""
        delta: dict[str, _SortedCounts] = {}
        hashed = [
            (self._hashes(records, self._counted), sign)
            for records, sign in ((new, 1), (replaced, -1))
        ]
        for column in self._counted:
            parts = []
            for columns, sign in hashed:
                hashes = columns[column]
                hashes = hashes[hashes != 0]
                values, counts = np.unique(hashes, return_counts=True)
                parts.append((values, sign * counts.astype(np.int64)))
            values = np.concatenate([parts[0][0], parts[1][0]])
            counts = np.concatenate([parts[0][1], parts[1][1]])
            merged, inverse = np.unique(values, return_inverse=True)
            sums = np.zeros(len(merged), dtype=np.int64)
            np.add.at(sums, inverse, counts)
            delta[column] = _SortedCounts(merged, sums)
        return delta

    def predict_new(self, new: pa.Table, *, threshold: float) -> ScoredPairs:
        """Pairs scoring at least `threshold` between the new records and the kept
        ones (kept on the left), then among the new ones (lower id on the left), with
        the blocking rules of `incremental_blocking_rules`. A record in both counts as
        new. Term frequencies from everyone (kept and new). The kept records do not
        change (see `add`)."""
        _quiet_splink()
        clock = time.perf_counter()
        timings = self.timings = {}

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[step] = now - clock
            clock = now

        records = prepare_records(new)
        replaced_rows = self._replaced_rows(records["unique_id"])
        replaced = self._table.take(pa.array(replaced_rows))
        delta = self._delta(records, replaced)
        records = self._blanked(records, delta)
        lap("new records")
        candidates = self._table.take(pa.array(self._candidate_rows(records, replaced_rows)))
        lap("candidates")
        self._term_frequencies(records, candidates, delta)
        self._run_tables(records, candidates)
        lap("term frequencies")
        pairs = ScoredPairs()
        try:
            if candidates.num_rows and records.num_rows:
                self._predict(self._plan(threshold, within=False), pairs)
                lap("between")
            if records.num_rows > 1:
                self._predict(self._plan(threshold, within=True), pairs)
                lap("within")
        finally:
            empty = self._table.slice(0, 0)
            self._run_tables(empty, empty)
        return pairs

    def _plan(self, threshold: float, *, within: bool) -> _Plan:
        """The SQL Splink runs to score the new records against the candidates
        (`predict_between`) or among themselves (`predict_within`) at `threshold`,
        written down on the first call, Splink running it on empty run_* tables (the SQL
        names the tables; it does not depend on their rows)."""
        key = (threshold, within)
        if key in self._plans:
            return self._plans[key]
        kept_frame, new_frame = self._frames
        registered = self._registered
        empty = self._table.slice(0, 0)
        self._run_tables(empty, empty)
        options: dict[str, Any] = {
            "blocking_rules_to_generate_predictions": list(self._rules),
            "threshold_match_probability": threshold,
            "warning_mode": "never",
        }
        recording: list[str] = []
        self._db_api.recording = recording
        try:
            inference = self._linker.inference
            predictions = (
                inference.predict_within(new_frame, **options)
                if within
                else inference.predict_between(kept_frame, new_frame, **options)
            )
        finally:
            self._db_api.recording = None
            self._db_api.delete_tables_created_by_splink_from_db()  # type: ignore[no-untyped-call]
            self._run_tables(*registered)
        statements = tuple(sql for sql in recording if _CREATE_TABLE.match(sql))
        tables = tuple(_CREATE_TABLE.match(sql)[1] for sql in statements)  # type: ignore[index]
        blocked = [name for name in tables if name.startswith("__splink__blocked_id_pairs")]
        if len(blocked) != 1 or predictions.physical_name not in tables:
            raise RuntimeError(f"unexpected SQL from Splink's prediction: tables {tables}")
        plan = self._plans[key] = _Plan(statements, tables, blocked[0], predictions.physical_name)
        return plan

    def _predict(self, plan: _Plan, pairs: ScoredPairs) -> None:
        """Run a plan on the registered run_* tables: its scored pairs into `pairs`, the
        pairs its blocking brought together into `pairs.comparisons`."""
        try:
            for sql in plan.statements:
                self._con.execute(sql)
            pairs.comparisons += self._con.execute(
                f"SELECT count(*) FROM {plan.blocked}"
            ).fetchall()[0][0]
            columns = ", ".join(_prediction_columns(self.model))
            scored = self._con.sql(f"SELECT {columns} FROM {plan.predictions}").to_arrow_table()
            pairs.extend(_pairs_from_table(scored, self.model))
        finally:
            for table in plan.tables:
                self._con.execute(f"DROP TABLE IF EXISTS {table}")

    def add(self, new: pa.Table) -> None:
        """Keep `new` as existing records for the next runs: a record already kept
        (by its id) is replaced, counts follow."""
        records = prepare_records(new)
        replaced_rows = self._replaced_rows(records["unique_id"])
        self._count_values(self._table.take(pa.array(replaced_rows)), sign=-1)
        self._alive[replaced_rows] = False
        self._count_values(records, sign=1)
        records = self._blanked(records, {})
        first_row = self._table.num_rows
        self._table = pa.concat_tables([self._table, records.cast(self._table.schema)])
        self._alive = np.concatenate([self._alive, np.ones(records.num_rows, dtype=bool)])
        ids = records["unique_id"].to_numpy().astype(np.uint64)
        rows = np.arange(first_row, first_row + records.num_rows, dtype=np.int64)
        # An id kept again points at its new row.
        self._ids = _SortedCounts(
            np.concatenate([self._ids.hashes, ids]), np.concatenate([self._ids.counts, rows])
        )
        self._ids = self._latest_rows(self._ids)
        for index, column in zip(self._index, self._keys(records, side=0), strict=True):
            if index is not None and column is not None:
                index.extend(column, first_row)

    @staticmethod
    def _latest_rows(ids: _SortedCounts) -> _SortedCounts:
        """One row per id: the last one kept."""
        order = np.lexsort((ids.counts, ids.hashes))
        hashes, rows = ids.hashes[order], ids.counts[order]
        last = np.ones(len(hashes), dtype=bool)
        last[:-1] = hashes[1:] != hashes[:-1]
        kept = _SortedCounts(np.empty(0, np.uint64), np.empty(0, np.int64))
        kept.hashes, kept.counts = hashes[last], rows[last]
        return kept
