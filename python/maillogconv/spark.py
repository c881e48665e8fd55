"""Spark reads mail logs natively.

Spark 4 (a Python data source)::

    import maillogconv.spark
    maillogconv.spark.register(spark)
    df = spark.read.format("maillog").option("tz", "Europe/Berlin").load("/logs/remote")

The partitions are host families (:func:`maillogconv.hosts`): one task reads one mail server's
rotated set, oldest file first, with the queue-ID correlation and year inference of the
command. Options: ``tz``, ``year``, ``mta``, ``default_host`` (for lines that name none, when
no tree directory names it), ``host`` (read only this host's family), ``threads`` (per task,
default 1: Spark's tasks are the parallelism). The schema is the Parquet output's with
``date`` (each record's local date) last.

Spark 3.3 and later (``mapInArrow`` over a DataFrame of host families)::

    fams = maillogconv.spark.families_frame(spark, "/logs/remote")
    df = fams.mapInArrow(maillogconv.spark.reader_function(tz="UTC"), maillogconv.spark.ddl())
"""
from __future__ import annotations

from typing import Iterator, List, Optional

import maillogconv

try:
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
except ImportError:  # Spark 3.x: only the mapInArrow recipe
    DataSource = DataSourceReader = InputPartition = object

_SPARK_TYPES = {
    "timestamp[us, tz=UTC]": "TIMESTAMP",
    "string": "STRING",
    "int32": "INT",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "date32[day]": "DATE",
}


def ddl() -> str:
    """The Spark schema (a DDL string) of the records: the Parquet schema, ``date`` last."""
    cols = []
    for f in maillogconv.schema(date=True):
        t = _SPARK_TYPES[str(f.type)]
        cols.append("`%s` %s%s" % (f.name, t, "" if f.nullable else " NOT NULL"))
    return ", ".join(cols)


class HostPartition(InputPartition):
    """One host family: what one Spark task reads."""

    def __init__(self, host: Optional[str], paths: List[str], only_host: bool):
        self.host = host
        self.paths = paths
        self.only_host = only_host


def _read_family(host, paths, only_host, options):
    """The batches of one host family; an error names the host and, from the engine, the file."""
    fam = maillogconv.Family(host=host, paths=list(paths), only_host=bool(only_host))
    default_host = options.get("default_host")
    try:
        reader = maillogconv.read(
            fam, tz=options.get("tz"), year=_int(options.get("year")), mta=options.get("mta"),
            host=host or default_host, threads=_int(options.get("threads")) or 1, date=True)
        for batch in reader:
            yield batch
    except Exception as e:
        # pyarrow's wrapping of the engine's error says nothing the error does not.
        why = str(e).replace("External error: ", "", 1)
        raise RuntimeError("maillog host %s: %s" % (host or default_host or "(unnamed)", why)) from e


def _int(v):
    return int(v) if v not in (None, "") else None


class MaillogReader(DataSourceReader):
    def __init__(self, options):
        self.options = dict(options)

    def _paths(self) -> List[str]:
        import json

        if "paths" in self.options:  # load([a, b]) passes a JSON list
            return json.loads(self.options["paths"])
        if "path" in self.options:
            return [self.options["path"]]
        raise ValueError("maillog: no path given (spark.read.format('maillog').load(PATH))")

    def partitions(self):
        fams = maillogconv.hosts(self._paths())
        want = self.options.get("host")
        if want is not None:
            fams = [f for f in fams if f.host == want]
            if not fams:
                raise ValueError("maillog: no host %r under %s" % (want, self._paths()))
        return [HostPartition(f.host, f.paths, f.only_host) for f in fams]

    def read(self, partition: HostPartition):
        return _read_family(partition.host, partition.paths, partition.only_host, self.options)


class MaillogDataSource(DataSource):
    """``spark.read.format("maillog")``: mail logs, one partition per host family."""

    @classmethod
    def name(cls) -> str:
        return "maillog"

    def schema(self) -> str:
        return ddl()

    def reader(self, schema) -> MaillogReader:
        return MaillogReader(self.options)


def register(spark) -> None:
    """Registers the ``maillog`` format with ``spark`` (Spark 4.0 or later)."""
    if DataSource is object:
        raise RuntimeError("Python data sources need Spark 4.0 or later; "
                           "on Spark 3.x use maillogconv.spark.reader_function with mapInArrow")
    spark.dataSource.register(MaillogDataSource)


def families_frame(spark, paths):
    """A DataFrame of the host families of ``paths`` (host, paths, only_host), one row per
    partition: ``mapInArrow`` then runs one task per family."""
    fams = maillogconv.hosts(paths)
    rows = [(f.host, f.paths, f.only_host) for f in fams]
    rdd = spark.sparkContext.parallelize(rows, max(1, len(rows)))
    return spark.createDataFrame(rdd, "host STRING, paths ARRAY<STRING>, only_host BOOLEAN")


def reader_function(**options):
    """The function for ``DataFrame.mapInArrow`` over :func:`families_frame`: each row's
    family read into record batches (Spark 3.3+). Options as for the data source."""
    options = {k: (str(v) if v is not None else None) for k, v in options.items()}

    def read_families(batches: Iterator) -> Iterator:
        for b in batches:
            for row in b.to_pylist():
                yield from _read_family(row["host"], row["paths"], row["only_host"], options)

    return read_families
