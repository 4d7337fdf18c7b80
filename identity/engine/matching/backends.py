"""Running Splink: a fresh database API per call, on DuckDB in-process (the default)
or on Spark for data beyond one machine."""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from splink.internals.database_api import DatabaseAPISubClass
from splink.internals.splink_dataframe import SplinkDataFrame

BACKENDS = ("duckdb", "spark")
_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class MatchingBackendUnavailable(RuntimeError):
    """The requested backend cannot run here (its library is not installed)."""


class _AtDebugLevel(logging.Handler):
    """Splink's warnings ("Level ... not observed in dataset, unable to train m value",
    dozens a run) are expected on small or sparse data: passed on at debug level, under
    this module's logger, so a terminal or an operator's log at the usual levels does
    not show them. Errors pass at their own level."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelno if record.levelno >= logging.ERROR else logging.DEBUG
        logger.log(level, "splink: %s", record.getMessage())


logger = logging.getLogger(__name__)
_DEBUG_LEVEL = _AtDebugLevel()


def _quiet_splink() -> None:
    # Splink's module loggers pass their records up to "splink"; its handler re-logs
    # them, and they go no further.
    splink_logger = logging.getLogger("splink")
    splink_logger.setLevel(logging.WARNING)
    splink_logger.propagate = False
    if _DEBUG_LEVEL not in splink_logger.handlers:
        splink_logger.addHandler(_DEBUG_LEVEL)


@contextmanager
def database(backend: str, memory_limit: str | None) -> Iterator[DatabaseAPISubClass]:
    """A fresh Splink database API for one call, closed (and its spill files removed)
    at the end."""
    _quiet_splink()
    if backend == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        if memory_limit is not None and not _MEMORY_LIMIT.match(memory_limit):
            raise ValueError(f"memory_limit must look like '2GB', got {memory_limit!r}")
        with tempfile.TemporaryDirectory(prefix="omnitrail-matching-") as spill_dir:
            connection = duckdb.connect()
            try:
                if memory_limit is not None:
                    connection.execute(f"SET memory_limit = '{memory_limit}'")
                connection.execute(f"SET temp_directory = '{spill_dir}'")
                connection.execute("SET preserve_insertion_order = false")
                yield DuckDBAPI(connection=connection)
            finally:
                connection.close()
    elif backend == "spark":
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:
            raise MatchingBackendUnavailable(
                "backend='spark' needs pyspark: pip install pyspark (and a Java runtime), "
                "or use backend='duckdb'"
            ) from error
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location

        # The master comes from spark-submit or SPARK_MASTER-style configuration; alone,
        # it is local mode. Splink's jar brings Jaro-Winkler; checkpoints break lineage.
        builder = SparkSession.builder.appName("omnitrail-matching").config(
            "spark.jars", similarity_jar_location()
        )
        spark = builder.getOrCreate()
        with tempfile.TemporaryDirectory(prefix="omnitrail-spark-") as checkpoints:
            spark.sparkContext.setCheckpointDir(checkpoints)
            yield SparkAPI(spark_session=spark)
    else:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def check_model(model: dict[str, Any], backend: str) -> None:
    check_backend(backend)
    trained_on = model.get("sql_dialect", "duckdb")
    if trained_on != backend:
        raise ValueError(
            f"the model was trained on {trained_on}; retrain it with backend={backend!r}"
        )


def register(db_api: DatabaseAPISubClass, table: pa.Table, name: str) -> SplinkDataFrame:
    # A Spark session outlives one call and keeps its tables: names must not repeat.
    return db_api.register(table, dataset_display_name=f"{name}_{uuid.uuid4().hex[:8]}")
