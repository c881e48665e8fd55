"""maillogconv for Python: mail server logs (Postfix, Exim, Sendmail, qmail, OpenSMTPD, ...)
as Arrow record batches, one record per recipient delivery attempt, converted by the same Rust
engine as the ``maillogconv`` command.

    import maillogconv
    reader = maillogconv.read("/var/log/maillog", tz="Europe/Berlin")   # pyarrow.RecordBatchReader
    table = reader.read_all()

    for family in maillogconv.hosts("/var/log/remote"):                 # one per mail server
        print(family.host, family.paths)

Spark: ``maillogconv.spark.register(spark)``, then ``spark.read.format("maillog")``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, List, Optional, Union

from . import _native

if TYPE_CHECKING:
    import pyarrow

__version__ = _native.__version__
__all__ = ["read", "hosts", "schema", "Family", "__version__"]

Paths = Union[str, os.PathLike, "Family", Iterable[Union[str, os.PathLike]]]


@dataclass(frozen=True)
class Family:
    """One mail server's logs: its files oldest first. ``only_host``: the files are a central
    log with other hosts' lines too, and only this host's are read."""

    host: Optional[str]
    paths: List[str] = field(default_factory=list)
    only_host: bool = False


def _paths(paths) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def read(paths: Paths, *, tz: Optional[str] = None, year: Optional[int] = None,
         mta: Optional[str] = None, host: Optional[str] = None, only_host: Optional[str] = None,
         threads: Optional[int] = None, strict: bool = False,
         max_line_length: Optional[int] = None, date: bool = False) -> "pyarrow.RecordBatchReader":
    """The records of ``paths`` as a ``pyarrow.RecordBatchReader``, batch by batch (memory
    stays flat however large the logs).

    ``paths``: a file, a directory (its rotated mail logs), a tree of per-host directories, a
    glob pattern, a list of these, or a :class:`Family` from :func:`hosts`. The options are the
    command's: ``tz`` the time zone of stamps without an offset (default the system's),
    ``year`` the year of the first line (default inferred from the files), ``mta`` to read
    every line as one MTA's, ``host`` for lines that name no host (Exim's mainlog),
    ``only_host`` to read one host of a central log, ``threads`` (default one per core),
    ``strict``, ``max_line_length``. ``date=True`` adds the ``date`` column of a partitioned
    dataset. The schema is that of the Parquet output. A file that cannot be read raises
    ``pyarrow.ArrowInvalid`` naming it once the batches of what was read are taken.
    """
    if isinstance(paths, Family):
        host = host if host is not None else paths.host
        if paths.only_host and only_host is None:
            only_host = paths.host
        paths = paths.paths
    return _native.read(_paths(paths), tz=tz, year=year, mta=mta, host=host,
                        only_host=only_host, threads=threads, strict=strict,
                        max_line_length=max_line_length, date=date)


def hosts(paths: Paths) -> List[Family]:
    """The host families of ``paths``, by host: a tree of per-host directories
    (``/var/log/remote/<host>/maillog*``) gives one per directory without reading a line.
    Other files are read once, a directory at a time, for the hosts their mail lines name: a
    directory of one host's logs is that host's family; a central log with many hosts gives one
    family per host, which reads it for that host's lines (``only_host``)."""
    return [Family(host=f["host"], paths=[str(p) for p in f["paths"]], only_host=f["only_host"])
            for f in _native.hosts(_paths(paths))]


def schema(*, date: bool = False) -> "pyarrow.Schema":
    """The ``pyarrow.Schema`` of :func:`read`'s batches."""
    return _native.schema(date=date)
