"""The time-series store: DuckDB, embedded by default, behind a small interface.

Tables live in the DuckDB schema ``telemetry`` so the store can share one database file with other
parts of twinforge (the AI audit log uses the same configured path):

``telemetry.series``      one row per (twin, node, signal): ``sid``, the unit its values are in
``telemetry.samples``     ``sid, ts, value, quality``; primary key ``(sid, ts)``
``telemetry.signals``     view: ``twin, node, signal, timestamp, value, quality, unit``
``telemetry.rollups``     bucket aggregates (count, mean, min, max, last) kept by :meth:`downsample`
``telemetry.events``      ``twin, node, kind, timestamp, payload (JSON text), text``
``telemetry.text_records`` maintenance logs: ``twin, node, timestamp, author, text, metadata (JSON)``
``telemetry.quarantine``  ``received, twin, source, location, payload (raw bytes), reason``

The store file must be a DuckDB database: a path with a data-file extension (``.csv``,
``.parquet``, ``.json``, ...) or an existing file that is not a DuckDB database is refused (DuckDB
would otherwise open a throw-away in-memory database or write a database under a misleading name).

Semantics, decided once for every writer:

- **Duplicates** — a sample with the same (twin, node, signal, timestamp) as a stored one
  **replaces** it: last write wins (re-imports correct data; a QoS 1 redelivery rewrites the same
  value). Inside one batch the later row wins too.
- **Out-of-order timestamps** are accepted as they come; every query sorts by time.
- Timestamps are UTC, microsecond resolution; time buckets are aligned to the Unix epoch.
- Writes are bulk (Arrow tables), one transaction per batch.
- **Validation before the write**: a sample whose time lies outside ``1970-01-01 .. 2262-04-11``
  (the epoch up to the last instant pandas holds in nanoseconds), whose value is not finite or
  whose quality code is unknown is never written (it would break the batch or every later read):
  it goes to the quarantine with the reason, and the good samples of the same batch are stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from twinforge.data.errors import DataError, StoreError
from twinforge.data.model import (
    USABLE_MAX,
    LatestSample,
    Quality,
    QuarantineRecord,
    duration_us,
    from_us,
    to_us,
)

log = logging.getLogger(__name__)

#: Environment variable naming the store when ``--store`` is not given.
STORE_ENV = "TWINFORGE_STORE"
#: Store path when neither ``--store`` nor ``TWINFORGE_STORE`` says otherwise (relative to the cwd).
DEFAULT_STORE_PATH = Path(".twinforge") / "twinforge.duckdb"
MEMORY = ":memory:"


#: Earliest time the store accepts (µs since the epoch): the Unix epoch.
TIME_MIN_US = 0
#: Latest time the store accepts (µs since the epoch): the last instant of a pandas nanosecond
#: timestamp, 2262-04-11 23:47:16.854775 UTC (readers hand samples to pandas).
TIME_MAX_US = int(pd.Timestamp.max.value) // 1000
TIME_WINDOW = "1970-01-01 .. 2262-04-11 UTC"

#: File extensions of data files: a store path ending so is a mistake (``--store data.csv``).
DATA_FILE_SUFFIXES = frozenset(
    {
        *(".csv", ".tsv", ".txt", ".dat", ".parquet", ".pq", ".json", ".jsonl", ".ndjson"),
        *(".yaml", ".yml", ".toml", ".xml", ".xlsx", ".xls", ".ods", ".feather", ".arrow", ".ipc"),
        *(".avro", ".orc", ".h5", ".hdf5", ".npy", ".npz", ".pkl", ".pickle", ".sqlite", ".sqlite3"),
        *(".gz", ".bz2", ".xz", ".zst", ".zip", ".tar", ".md", ".html", ".log"),
    }
)
_DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of every DuckDB database file


def time_problem(ts_us: Any) -> str | None:
    """Why a time (integer µs since the epoch) cannot be stored, or None when it can."""
    if isinstance(ts_us, bool) or not isinstance(ts_us, int | float | np.integer | np.floating):
        return f"time {ts_us!r} is not a number of microseconds since the epoch"
    if isinstance(ts_us, float | np.floating) and not math.isfinite(ts_us):
        return f"time {ts_us} is not finite"
    if TIME_MIN_US <= ts_us <= TIME_MAX_US:
        return None
    try:
        stamp = pd.Timestamp(int(ts_us), unit="us")
        where = f"{stamp.year}-{stamp.month:02d}-{stamp.day:02d} {stamp.hour:02d}:{stamp.minute:02d} UTC"
    except (OverflowError, ValueError):  # beyond what pandas holds even in µs
        magnitude = int(ts_us).bit_length() * math.log10(2)
        where = f"about {'-' if ts_us < 0 else ''}10^{magnitude:.0f} µs from 1970"
    hint = ""
    for factor in (1_000, 1_000_000, 1_000_000_000):
        if ts_us > 0 and TIME_MIN_US <= ts_us // factor <= TIME_MAX_US:
            hint = (
                f"; divided by {factor:,} it would fit: a finer time unit than expected "
                "(milliseconds or microseconds where seconds or milliseconds belong)?"
            )
            break
    return f"time is outside the storable window {TIME_WINDOW} ({where}){hint}"


def value_problem(value: Any) -> str | None:
    """Why a sample value cannot be stored (it must be a finite number), or None when it can."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return f"value {value!r} is not a number"
    try:
        ok = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return f"value {value} is too large for a 64-bit float"
    return None if ok else f"value {value} is not a finite number"


def sample_problem(ts_us: Any, value: Any, quality: Any = 0) -> str | None:
    """Why one sample cannot be stored, or None: the rule :meth:`DuckDBStore.write_batch` applies,
    for ingest paths that check each sample with its context (topic, file row) before batching."""
    problem = time_problem(ts_us) or value_problem(value)
    if problem is None and (
        isinstance(quality, bool)
        or not isinstance(quality, int | np.integer)
        or not 0 <= quality <= max(Quality)
    ):
        problem = f"quality code {quality!r} is not one of 0..{int(max(Quality))}"
    return problem


def check_store_path(path: str | os.PathLike[str]) -> None:
    """Refuse a store path that is not (and cannot become) a DuckDB database: a data-file
    extension, a folder, or an existing file that is not a DuckDB database."""
    where = str(path)
    if where == MEMORY:
        return
    p = Path(where)
    suffix = p.suffix.lower()
    if suffix in DATA_FILE_SUFFIXES:
        raise StoreError(
            f"store path {where!r} has the data-file extension {suffix!r}: a store is a DuckDB "
            "database file (e.g. .twinforge/twinforge.duckdb); pass the file to 'twinforge ingest' "
            "and a .duckdb path as --store"
        )
    if p.is_dir():
        raise StoreError(f"store path {where!r} is a folder; name a DuckDB database file inside it")
    if p.exists():
        try:
            with p.open("rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise StoreError(f"cannot read store {where!r}: {exc.strerror}") from None
        if head[8:12] != _DUCKDB_MAGIC:
            what = "an empty file" if not head else "not a DuckDB database"
            raise StoreError(
                f"store path {where!r} exists and is {what}; refusing to open it as the store "
                "(name a new file or an existing DuckDB database)"
            )


def resolve_store_path(path: str | os.PathLike[str] | None = None) -> str:
    """Where the store lives: ``path`` if given, else ``$TWINFORGE_STORE``, else the default path.

    This is the one place to switch to the project configuration (``[store]`` section of
    ``twinforge.config``) once it exists.
    """
    if path is not None and str(path) != "":
        return str(path)
    env = os.environ.get(STORE_ENV)
    if env:
        return env
    return str(DEFAULT_STORE_PATH)


@dataclass
class SampleBatch:
    """Columnar samples ready for the store: series id, time (µs), value, quality."""

    sid: list[int] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    quality: list[int] = field(default_factory=list)

    def add(self, sid: int, ts_us: int, value: float, quality: int = 0) -> None:
        self.sid.append(sid)
        self.ts_us.append(ts_us)
        self.value.append(value)
        self.quality.append(quality)

    def __len__(self) -> int:
        return len(self.sid)

    def clear(self) -> None:
        self.sid.clear()
        self.ts_us.clear()
        self.value.clear()
        self.quality.clear()


@dataclass(frozen=True)
class DownsampleReport:
    samples_before: int
    samples_after: int
    buckets: int

    @property
    def removed(self) -> int:
        return self.samples_before - self.samples_after


@runtime_checkable
class TimeSeriesStore(Protocol):
    """What the data layer needs from a store. :class:`DuckDBStore` is the embedded one; a server
    database can implement the same methods later."""

    path: str

    # -- writing -------------------------------------------------------------------------
    def series_id(self, twin: str, node: str, signal: str, unit: str | None = None) -> int: ...
    def write_batch(self, batch: SampleBatch, quarantine: Sequence[QuarantineRecord] = ()) -> int: ...
    def write_samples(
        self, twin: str, frame: pd.DataFrame, units: dict[tuple[str, str], str] | None = None
    ) -> int: ...
    def write_quarantine(self, records: Sequence[QuarantineRecord]) -> int: ...
    def clear_file_quarantine(self, twin: str, file_name: str, first: int, last: int | None) -> int: ...
    def write_events(self, twin: str, events: pd.DataFrame | Sequence[dict[str, Any]]) -> int: ...
    def write_text_records(self, twin: str, records: pd.DataFrame | Sequence[dict[str, Any]]) -> int: ...

    # -- reading -------------------------------------------------------------------------
    def range(
        self,
        twin: str,
        node: str,
        signal: str,
        start: Any = None,
        end: Any = None,
        *,
        usable_only: bool = False,
    ) -> pd.DataFrame: ...
    def latest(
        self, twin: str, node: str, signal: str, *, usable_only: bool = False
    ) -> LatestSample | None: ...
    def latest_all(self, twin: str, *, usable_only: bool = False) -> pd.DataFrame: ...
    def resample(
        self,
        twin: str,
        every: Any,
        aggs: str | Sequence[str] = "mean",
        start: Any = None,
        end: Any = None,
        signals: Iterable[str | tuple[str, str]] | None = None,
        *,
        include_bad: bool = False,
        fill_gaps: bool = False,
    ) -> pd.DataFrame: ...
    def events(
        self, twin: str, node: str | None = None, kind: str | None = None, start: Any = None, end: Any = None
    ) -> pd.DataFrame: ...
    def text_records(
        self, twin: str, node: str | None = None, start: Any = None, end: Any = None
    ) -> pd.DataFrame: ...
    def quarantined(
        self, twin: str | None = None, source: str | None = None, limit: int | None = None
    ) -> pd.DataFrame: ...
    def counts(self, twin: str | None = None) -> dict[str, int]: ...

    # -- housekeeping --------------------------------------------------------------------
    def delete_older_than(
        self, cutoff: Any, twin: str | None = None, include: Sequence[str] = ("signals", "events")
    ) -> dict[str, int]: ...
    def downsample(
        self, older_than: Any, every: Any, twin: str | None = None, value: str = "mean"
    ) -> DownsampleReport: ...
    def close(self) -> None: ...


_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS telemetry;
CREATE SEQUENCE IF NOT EXISTS telemetry.series_ids START 1;
CREATE TABLE IF NOT EXISTS telemetry.series (
    sid INTEGER PRIMARY KEY DEFAULT nextval('telemetry.series_ids'),
    twin VARCHAR NOT NULL, node VARCHAR NOT NULL, signal VARCHAR NOT NULL, unit VARCHAR,
    UNIQUE (twin, node, signal));
CREATE TABLE IF NOT EXISTS telemetry.samples (
    sid INTEGER NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE NOT NULL, quality UTINYINT NOT NULL,
    PRIMARY KEY (sid, ts));
CREATE TABLE IF NOT EXISTS telemetry.rollups (
    sid INTEGER NOT NULL, bucket TIMESTAMP NOT NULL, width_us BIGINT NOT NULL, count BIGINT NOT NULL,
    mean DOUBLE, min DOUBLE, max DOUBLE, last DOUBLE, last_ts TIMESTAMP, PRIMARY KEY (sid, bucket));
CREATE SEQUENCE IF NOT EXISTS telemetry.event_ids START 1;
CREATE TABLE IF NOT EXISTS telemetry.events (
    id BIGINT PRIMARY KEY DEFAULT nextval('telemetry.event_ids'),
    twin VARCHAR NOT NULL, node VARCHAR, kind VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
    payload VARCHAR, text VARCHAR);
CREATE SEQUENCE IF NOT EXISTS telemetry.text_ids START 1;
CREATE TABLE IF NOT EXISTS telemetry.text_records (
    id BIGINT PRIMARY KEY DEFAULT nextval('telemetry.text_ids'),
    twin VARCHAR NOT NULL, node VARCHAR, ts TIMESTAMP NOT NULL, author VARCHAR, text VARCHAR NOT NULL,
    metadata VARCHAR);
CREATE SEQUENCE IF NOT EXISTS telemetry.quarantine_ids START 1;
CREATE TABLE IF NOT EXISTS telemetry.quarantine (
    id BIGINT PRIMARY KEY DEFAULT nextval('telemetry.quarantine_ids'),
    received TIMESTAMP NOT NULL, twin VARCHAR, source VARCHAR NOT NULL, location VARCHAR,
    payload BLOB, reason VARCHAR NOT NULL);
CREATE SEQUENCE IF NOT EXISTS telemetry.alert_ids START 1;
CREATE TABLE IF NOT EXISTS telemetry.alerts (
    id BIGINT PRIMARY KEY DEFAULT nextval('telemetry.alert_ids'),
    twin VARCHAR NOT NULL, node VARCHAR, signal VARCHAR, source VARCHAR NOT NULL,
    started TIMESTAMP NOT NULL, ended TIMESTAMP, score DOUBLE, peak_score DOUBLE, threshold DOUBLE,
    contributions VARCHAR, text VARCHAR, acked_at TIMESTAMP, acked_by VARCHAR);
ALTER TABLE telemetry.alerts ADD COLUMN IF NOT EXISTS diagnosis VARCHAR;
ALTER TABLE telemetry.alerts ADD COLUMN IF NOT EXISTS work_orders VARCHAR;
ALTER TABLE telemetry.alerts ADD COLUMN IF NOT EXISTS remaining_life VARCHAR;
CREATE OR REPLACE VIEW telemetry.signals AS
    SELECT s.twin, s.node, s.signal, x.ts AS timestamp, x.value, x.quality, s.unit
    FROM telemetry.samples x JOIN telemetry.series s USING (sid);
"""

_AGGS = {
    "mean": "avg(x.value)",
    "min": "min(x.value)",
    "max": "max(x.value)",
    "last": "arg_max(x.value, x.ts)",
    "first": "arg_min(x.value, x.ts)",
    "count": "count(*)",
    "sum": "sum(x.value)",
    "std": "stddev_samp(x.value)",
}
_EPOCH_SQL = "TIMESTAMP '1970-01-01 00:00:00'"


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        if c in frame.columns:
            frame[c] = pd.to_datetime(frame[c]).dt.tz_localize("UTC")
    return frame


def _json_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


#: what an alert carries beyond where and how much (JSON columns of ``telemetry.alerts``): the
#: likely fault, the matching past work orders of its node, the remaining life of its node
ALERT_ENRICHMENT = ("diagnosis", "work_orders", "remaining_life")


class DuckDBStore:
    """The embedded time-series store. ``path`` is a file (created with its folder) or ``:memory:``.

    One process may open a file for writing at a time (DuckDB's rule); inside the process the store
    is thread-safe (one connection guarded by a lock). Use it as a context manager or call
    :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str] = MEMORY, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        #: bumped on every alert written, updated or acknowledged (readers cache against it)
        self.alerts_version = 0
        self._sids: dict[tuple[str, str, str], int] = {}
        check_store_path(self.path)
        if self.path != MEMORY:
            p = Path(self.path)
            if read_only and not p.exists():
                raise StoreError(f"store {self.path} does not exist; ingest data first or pass --store")
            if not read_only:
                p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only and self.path != MEMORY)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise StoreError(
                    f"store {self.path} is in use by another process (DuckDB lets one process write a "
                    f"file at a time): stop that process or use another store; {text.splitlines()[0]}"
                ) from None
            raise StoreError(f"cannot open store {self.path}: {text}") from None
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        if read_only:
            found = self._con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'telemetry'"
            ).fetchone()
            if not found or not found[0]:
                self._con.close()
                raise StoreError(f"{self.path} holds no twinforge telemetry (no 'telemetry' schema)")
        else:
            self._con.execute(_SCHEMA).fetchall()

    # -- plumbing ------------------------------------------------------------------------
    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock, contextlib.suppress(duckdb.Error):
            self._con.close()

    def _q(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            return (
                self._con.execute(sql, params).fetchall()
                if params is not None
                else self._con.execute(sql).fetchall()
            )

    def _df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        with self._lock:
            cur = self._con.execute(sql, params) if params is not None else self._con.execute(sql)
            return cur.df()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            self._con.execute("BEGIN TRANSACTION").fetchall()
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK").fetchall()
                raise
            self._con.execute("COMMIT").fetchall()

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"store {self.path} is open read-only")

    # -- series --------------------------------------------------------------------------
    def series_id(self, twin: str, node: str, signal: str, unit: str | None = None) -> int:
        """The id of a series, created on first use (recording the unit its values are in)."""
        key = (twin, node, signal)
        sid = self._sids.get(key)
        if sid is not None:
            return sid
        with self._lock:
            row = self._con.execute(
                "SELECT sid FROM telemetry.series WHERE twin = ? AND node = ? AND signal = ?",
                [twin, node, signal],
            ).fetchone()
            if row is None:
                self._check_writable()
                row = self._con.execute(
                    "INSERT INTO telemetry.series (twin, node, signal, unit) VALUES (?, ?, ?, ?) RETURNING sid",
                    [twin, node, signal, unit],
                ).fetchone()
            assert row is not None
            self._sids[key] = int(row[0])
            return int(row[0])

    def _twin_sids(self, twin: str) -> list[int]:
        return [r[0] for r in self._q("SELECT sid FROM telemetry.series WHERE twin = ?", [twin])]

    # -- writing -------------------------------------------------------------------------
    def write_batch(self, batch: SampleBatch, quarantine: Sequence[QuarantineRecord] = ()) -> int:
        """Store samples and quarantine records in one transaction; returns samples written.

        Every sample is checked first (:func:`sample_problem`: time window, finite value, known
        quality): a bad one is quarantined (source ``store``) instead of failing the batch, the
        good ones are written. Within the batch a later sample replaces an earlier one with the
        same series and time.
        """
        self._check_writable()
        n = len(batch)
        if n == 0 and not quarantine:
            return 0
        table = None
        rejected: list[QuarantineRecord] = []
        if n:
            (sid, ts, value, quality), bad = _screen(batch)
            if bad:
                rejected = self._rejected_records(batch, bad)
            keep = ~pd.DataFrame({"s": sid, "t": ts}).duplicated(keep="last").to_numpy()
            if not keep.all():
                sid, ts, value, quality = sid[keep], ts[keep], value[keep], quality[keep]
            if len(sid):
                table = pa.table(
                    {
                        "sid": pa.array(sid, pa.int32()),
                        "ts": pa.array(ts, pa.timestamp("us")),
                        "value": pa.array(value, pa.float64()),
                        "quality": pa.array(quality, pa.uint8()),
                    }
                )
        records = [*quarantine, *rejected]
        with self._transaction() as con:
            if table is not None:
                con.register("_tf_batch", table)
                try:
                    con.execute("INSERT OR REPLACE INTO telemetry.samples SELECT * FROM _tf_batch").fetchall()
                finally:
                    con.unregister("_tf_batch")
            if records:
                self._insert_quarantine(con, records)
        return 0 if table is None else table.num_rows

    def _rejected_records(self, batch: SampleBatch, bad: list[tuple[int, str]]) -> list[QuarantineRecord]:
        """Quarantine records for samples the store refused, named by their series."""
        names: dict[Any, tuple[str, str]] = {}
        sids = sorted({batch.sid[i] for i, _ in bad if isinstance(batch.sid[i], int | np.integer)})
        if sids:
            rows = self._q(
                "SELECT sid, twin, node || '.' || signal FROM telemetry.series WHERE sid IN (SELECT unnest(?))",
                [[int(x) for x in sids]],
            )
            names = {r[0]: (r[1], r[2]) for r in rows}
        out = []
        for i, reason in bad:
            sid = batch.sid[i]
            twin, label = names.get(sid, (None, f"series {sid!r}"))
            payload = {"series": label, "ts_us": batch.ts_us[i], "value": batch.value[i]}
            payload["quality"] = batch.quality[i]
            out.append(
                QuarantineRecord(
                    "store",
                    label,
                    json.dumps(payload, default=repr).encode(),
                    f"refused by the store: {reason}",
                    twin,
                )
            )
        log.warning("store refused %d sample(s) of a batch of %d: %s", len(bad), len(batch), bad[0][1])
        return out

    def write_samples(
        self, twin: str, frame: pd.DataFrame, units: dict[tuple[str, str], str] | None = None
    ) -> int:
        """Store a long frame with columns ``node, signal, timestamp, value`` (and optional ``quality``).

        Values must already be in the signal's unit (ingest converts); ``units`` records that unit
        for new series.
        """
        missing = {"node", "signal", "timestamp", "value"} - set(frame.columns)
        if missing:
            raise DataError(f"sample frame lacks column(s) {', '.join(sorted(missing))}")
        if frame.empty:
            return 0
        keys = frame[["node", "signal"]].drop_duplicates()
        sid_of = {
            (n, s): self.series_id(twin, n, s, (units or {}).get((n, s)))
            for n, s in keys.itertuples(index=False)
        }
        sids = [sid_of[(n, s)] for n, s in zip(frame["node"], frame["signal"], strict=True)]
        ts = _timestamps_us(frame["timestamp"])
        quality = (
            frame["quality"].to_numpy(dtype=np.uint8)
            if "quality" in frame.columns
            else np.zeros(len(frame), np.uint8)
        )
        try:
            value = pd.to_numeric(frame["value"], errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"sample values must be numbers: {exc}") from None
        batch = SampleBatch(sids, ts.tolist(), value.tolist(), quality.tolist())
        return self.write_batch(batch)

    def write_quarantine(self, records: Sequence[QuarantineRecord]) -> int:
        self._check_writable()
        if not records:
            return 0
        with self._transaction() as con:
            self._insert_quarantine(con, records)
        return len(records)

    def clear_file_quarantine(self, twin: str, file_name: str, first: int, last: int | None) -> int:
        """Delete the quarantine records of file ``file_name`` (``<name> line N`` / ``<name> row N``)
        for lines ``first`` to ``last`` (None: to the end): a re-import replaces its records."""
        self._check_writable()
        with self._transaction() as con:
            row = con.execute(
                "DELETE FROM telemetry.quarantine WHERE source = 'file' AND twin IS NOT DISTINCT FROM ? AND "
                "(starts_with(location, ?) OR starts_with(location, ?)) AND "
                "TRY_CAST(regexp_extract(location, ' (?:line|row) ([0-9]+)$', 1) AS BIGINT) BETWEEN ? AND ?",
                [twin, f"{file_name} line ", f"{file_name} row ", first, last if last is not None else 2**62],
            ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _insert_quarantine(con: duckdb.DuckDBPyConnection, records: Sequence[QuarantineRecord]) -> None:
        table = pa.table(
            {
                "received": pa.array([r.received_us for r in records], pa.timestamp("us")),
                "twin": pa.array([r.twin for r in records], pa.string()),
                "source": pa.array([r.source for r in records], pa.string()),
                "location": pa.array([r.location for r in records], pa.string()),
                "payload": pa.array([bytes(r.payload) for r in records], pa.binary()),
                "reason": pa.array([r.reason for r in records], pa.string()),
            }
        )
        _insert_arrow(con, "quarantine", table)

    def write_events(self, twin: str, events: pd.DataFrame | Sequence[dict[str, Any]]) -> int:
        """Store events: ``node``, ``kind``, ``timestamp``, ``payload`` (any JSON value), ``text``."""
        self._check_writable()
        frame = _record_frame(events, "events", ("kind", "timestamp"))
        if frame.empty:
            return 0
        n = len(frame)
        table = pa.table(
            {
                "twin": pa.array([twin] * n, pa.string()),
                "node": pa.array(_column(frame, "node", n), pa.string()),
                "kind": pa.array([str(k) for k in frame["kind"]], pa.string()),
                "ts": pa.array(_timestamps_us(frame["timestamp"]), pa.timestamp("us")),
                "payload": pa.array([_json_text(v) for v in _column(frame, "payload", n)], pa.string()),
                "text": pa.array(_column(frame, "text", n), pa.string()),
            }
        )
        with self._transaction() as con:
            _insert_arrow(con, "events", table)
        return n

    def write_text_records(self, twin: str, records: pd.DataFrame | Sequence[dict[str, Any]]) -> int:
        """Store text records (maintenance logs): ``node``, ``timestamp``, ``author``, ``text``, ``metadata``."""
        self._check_writable()
        frame = _record_frame(records, "text records", ("text", "timestamp"))
        if frame.empty:
            return 0
        n = len(frame)
        table = pa.table(
            {
                "twin": pa.array([twin] * n, pa.string()),
                "node": pa.array(_column(frame, "node", n), pa.string()),
                "ts": pa.array(_timestamps_us(frame["timestamp"]), pa.timestamp("us")),
                "author": pa.array(_column(frame, "author", n), pa.string()),
                "text": pa.array([str(t) for t in frame["text"]], pa.string()),
                "metadata": pa.array([_json_text(v) for v in _column(frame, "metadata", n)], pa.string()),
            }
        )
        with self._transaction() as con:
            _insert_arrow(con, "text_records", table)
        return n

    # -- reading -------------------------------------------------------------------------
    def range(
        self,
        twin: str,
        node: str,
        signal: str,
        start: Any = None,
        end: Any = None,
        *,
        usable_only: bool = False,
    ) -> pd.DataFrame:
        """Samples of one signal with ``start <= timestamp < end``, sorted by time:
        columns ``timestamp, value, quality``."""
        where, params = _time_filter("x.ts", start, end)
        if usable_only:
            where += f" AND x.quality <= {USABLE_MAX}"
        frame = self._df(
            "SELECT x.ts AS timestamp, x.value, x.quality FROM telemetry.samples x "
            "JOIN telemetry.series s USING (sid) WHERE s.twin = ? AND s.node = ? AND s.signal = ?"
            f"{where} ORDER BY x.ts",
            [twin, node, signal, *params],
        )
        return _utc(frame, "timestamp")

    def latest(self, twin: str, node: str, signal: str, *, usable_only: bool = False) -> LatestSample | None:
        """The newest sample of one signal (of usable quality only, if asked), or None."""
        cond = f" AND x.quality <= {USABLE_MAX}" if usable_only else ""
        row = self._q(
            "SELECT epoch_us(x.ts), x.value, x.quality, s.unit FROM telemetry.samples x "
            "JOIN telemetry.series s USING (sid) WHERE s.twin = ? AND s.node = ? AND s.signal = ?"
            f"{cond} ORDER BY x.ts DESC LIMIT 1",
            [twin, node, signal],
        )
        if not row:
            return None
        ts, value, quality, unit = row[0]
        return LatestSample(twin, node, signal, from_us(ts), float(value), Quality(quality), unit)

    def latest_all(self, twin: str, *, usable_only: bool = False) -> pd.DataFrame:
        """The newest sample of every signal of a twin: ``node, signal, timestamp, value, quality, unit``."""
        cond = f" AND x.quality <= {USABLE_MAX}" if usable_only else ""
        frame = self._df(
            "WITH last AS (SELECT x.sid, max(x.ts) AS ts, arg_max(x.value, x.ts) AS value, "
            "arg_max(x.quality, x.ts) AS quality FROM telemetry.samples x "
            f"WHERE x.sid IN (SELECT sid FROM telemetry.series WHERE twin = ?){cond} GROUP BY x.sid) "
            "SELECT s.node, s.signal, last.ts AS timestamp, last.value, last.quality, s.unit "
            "FROM last JOIN telemetry.series s USING (sid) ORDER BY s.node, s.signal",
            [twin],
        )
        return _utc(frame, "timestamp")

    def resample(
        self,
        twin: str,
        every: Any,
        aggs: str | Sequence[str] = "mean",
        start: Any = None,
        end: Any = None,
        signals: Iterable[str | tuple[str, str]] | None = None,
        *,
        include_bad: bool = False,
        fill_gaps: bool = False,
    ) -> pd.DataFrame:
        """Aggregate into time buckets of width ``every`` (aligned to the epoch) as a wide frame.

        Index: bucket start (UTC). Columns: ``node.signal`` for one aggregate, or a
        ``(node.signal, aggregate)`` MultiIndex for several. Aggregates: mean, min, max, last,
        first, count, sum, std. Samples of bad or out-of-range quality are left out unless
        ``include_bad``. ``fill_gaps`` adds empty buckets as NaN rows.
        """
        names = [aggs] if isinstance(aggs, str) else list(aggs)
        unknown = [a for a in names if a not in _AGGS]
        if unknown or not names:
            raise DataError(f"unknown aggregate(s) {unknown}; expected some of {', '.join(_AGGS)}")
        width = duration_us(every)
        where, params = _time_filter("x.ts", start, end)
        if not include_bad:
            where += f" AND x.quality <= {USABLE_MAX}"
        labels: list[str] | None = None
        if signals is not None:
            labels = [s if isinstance(s, str) else f"{s[0]}.{s[1]}" for s in signals]
            if labels:
                where += " AND (s.node || '.' || s.signal) IN (SELECT unnest(?))"
                params.append(labels)
        select = ", ".join(f'{_AGGS[a]} AS "{a}"' for a in names)
        long = self._df(
            f"SELECT time_bucket(to_microseconds(?), x.ts, {_EPOCH_SQL}) AS bucket, "
            f"s.node || '.' || s.signal AS label, {select} FROM telemetry.samples x "
            f"JOIN telemetry.series s USING (sid) WHERE s.twin = ?{where} GROUP BY ALL ORDER BY bucket",
            [width, twin, *params],
        )
        long = _utc(long, "bucket")
        wide = long.pivot(index="bucket", columns="label", values=names)
        if len(names) == 1:
            wide.columns = wide.columns.droplevel(0)
        else:
            wide = wide.swaplevel(0, 1, axis=1)
            order = sorted(wide.columns.get_level_values(0).unique())
            wide = wide.reindex(columns=pd.MultiIndex.from_product([order, names]))
        if labels:
            present = [lab for lab in labels if lab in set(long["label"])]
            if len(names) == 1:
                wide = wide.reindex(columns=present)
        else:
            wide = (
                wide.sort_index(axis=1, level=0)
                if len(names) > 1
                else wide.reindex(columns=sorted(wide.columns))
            )
        wide.columns.name = None
        wide.index.name = "bucket"
        if fill_gaps and not wide.empty:
            full = pd.date_range(wide.index.min(), wide.index.max(), freq=pd.Timedelta(microseconds=width))
            wide = wide.reindex(full)
            wide.index.name = "bucket"
        return wide

    def events(
        self, twin: str, node: str | None = None, kind: str | None = None, start: Any = None, end: Any = None
    ) -> pd.DataFrame:
        where, params = _time_filter("ts", start, end)
        if node is not None:
            where += " AND node = ?"
            params.append(node)
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        frame = self._df(
            f"SELECT id, node, kind, ts AS timestamp, payload, text FROM telemetry.events WHERE twin = ?{where} "
            "ORDER BY ts, id",
            [twin, *params],
        )
        frame["payload"] = [json.loads(p) if isinstance(p, str) else None for p in frame["payload"]]
        return _utc(frame, "timestamp")

    # -- alerts --------------------------------------------------------------------------
    def write_alert(self, twin: str, alert: Mapping[str, Any]) -> int:
        """Store an alert (``node``, ``signal``, ``source``, ``started``, ``score``, ``peak_score``,
        ``threshold``, ``contributions`` (JSON), ``text``, and optionally ``diagnosis``,
        ``work_orders``, ``remaining_life`` (JSON, see :data:`ALERT_ENRICHMENT`)); its id."""
        self._check_writable()
        with self._transaction() as con:
            row = con.execute(
                "INSERT INTO telemetry.alerts (twin, node, signal, source, started, ended, score, peak_score, "
                "threshold, contributions, text, diagnosis, work_orders, remaining_life) VALUES (?, ?, ?, ?, "
                "make_timestamp(?), make_timestamp(?), ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    twin,
                    alert.get("node"),
                    alert.get("signal"),
                    str(alert.get("source") or "detector"),
                    to_us(alert["started"]),
                    None if alert.get("ended") is None else to_us(alert["ended"]),
                    alert.get("score"),
                    alert.get("peak_score"),
                    alert.get("threshold"),
                    _json_text(alert.get("contributions")),
                    alert.get("text"),
                    *(_json_text(alert.get(c)) for c in ALERT_ENRICHMENT),
                ],
            ).fetchone()
        self.alerts_version += 1
        return int(row[0])

    def update_alert(
        self,
        alert_id: int,
        *,
        ended: Any = None,
        peak_score: float | None = None,
        contributions: Any = None,
        node: str | None = None,
        signal: str | None = None,
        text: str | None = None,
        diagnosis: Any = None,
        work_orders: Any = None,
        remaining_life: Any = None,
    ) -> None:
        """Record how an open alert evolved: its end, peak score, signal contributions, the signal
        (and node) contributing most, its description, and what it was enriched with (the
        diagnosis, past work orders, remaining life: JSON)."""
        columns = {
            "node = ?": node,
            "signal = ?": signal,
            "text = ?": text,
            "ended = make_timestamp(?)": None if ended is None else to_us(ended),
            "peak_score = ?": peak_score,
            "contributions = ?": None if contributions is None else _json_text(contributions),
            "diagnosis = ?": _json_text(diagnosis),
            "work_orders = ?": _json_text(work_orders),
            "remaining_life = ?": _json_text(remaining_life),
        }
        given = {column: value for column, value in columns.items() if value is not None}
        self._check_writable()
        if given:
            with self._transaction() as con:
                con.execute(
                    f"UPDATE telemetry.alerts SET {', '.join(given)} WHERE id = ?",
                    [*given.values(), alert_id],
                )
        self.alerts_version += 1

    def ack_alert(self, alert_id: int, by: str) -> bool:
        """Acknowledge an alert; False when there is no such alert."""
        self._check_writable()
        with self._transaction() as con:
            found = con.execute(
                "UPDATE telemetry.alerts SET acked_at = coalesce(acked_at, now()::TIMESTAMP), "
                "acked_by = coalesce(acked_by, ?) WHERE id = ? RETURNING id",
                [by, alert_id],
            ).fetchall()
        self.alerts_version += 1
        return bool(found)

    def alerts(
        self,
        twin: str | None = None,
        *,
        open_only: bool = False,
        unacked_only: bool = False,
        alert_id: int | None = None,
        limit: int = 200,
    ) -> pd.DataFrame:
        """Alerts, newest first: ``id, twin, node, signal, source, started, ended, score, peak_score,
        threshold, contributions, text, acked_at, acked_by, diagnosis, work_orders, remaining_life``
        (the last three parsed from JSON; None when the alert was not enriched)."""
        where, params = ["TRUE"], []
        if twin is not None:
            where.append("twin = ?")
            params.append(twin)
        if open_only:
            where.append("ended IS NULL")
        if unacked_only:
            where.append("acked_at IS NULL")
        if alert_id is not None:
            where.append("id = ?")
            params.append(alert_id)
        frame = self._df(
            "SELECT id, twin, node, signal, source, started, ended, score, peak_score, threshold, contributions, "
            f"text, acked_at, acked_by, {self._enrichment_columns()} FROM telemetry.alerts "
            f"WHERE {' AND '.join(where)} ORDER BY started DESC, id DESC LIMIT ?",
            [*params, int(limit)],
        )
        for c in ("contributions", *ALERT_ENRICHMENT):
            frame[c] = pd.Series(
                [json.loads(v) if isinstance(v, str) else None for v in frame[c]],
                index=frame.index,
                dtype=object,
            )
        return _utc(frame, "started", "ended", "acked_at")

    def _enrichment_columns(self) -> str:
        """The enrichment columns to select: NULL in a store opened read-only that predates them."""
        if not hasattr(self, "_enrichment_sql"):
            have = {
                r[0]
                for r in self._q(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'telemetry' "
                    "AND table_name = 'alerts'"
                )
            }
            self._enrichment_sql = ", ".join(
                c if c in have else f"NULL::VARCHAR AS {c}" for c in ALERT_ENRICHMENT
            )
        return self._enrichment_sql

    def text_records(
        self, twin: str, node: str | None = None, start: Any = None, end: Any = None
    ) -> pd.DataFrame:
        where, params = _time_filter("ts", start, end)
        if node is not None:
            where += " AND node = ?"
            params.append(node)
        frame = self._df(
            "SELECT id, node, ts AS timestamp, author, text, metadata FROM telemetry.text_records "
            f"WHERE twin = ?{where} ORDER BY ts, id",
            [twin, *params],
        )
        frame["metadata"] = [json.loads(m) if isinstance(m, str) else None for m in frame["metadata"]]
        return _utc(frame, "timestamp")

    def quarantined(
        self, twin: str | None = None, source: str | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Quarantined input, oldest first: ``id, received, twin, source, location, payload, text, reason``
        (``payload`` raw bytes; ``text`` the payload decoded as UTF-8 with escapes)."""
        where, params = "", []
        if twin is not None:
            where += " AND twin = ?"
            params.append(twin)
        if source is not None:
            where += " AND source = ?"
            params.append(source)
        lim = f" LIMIT {int(limit)}" if limit is not None else ""
        frame = self._df(
            f"SELECT id, received, twin, source, location, payload, reason FROM telemetry.quarantine "
            f"WHERE true{where} ORDER BY id{lim}",
            params,
        )
        frame["payload"] = [bytes(p) if p is not None else b"" for p in frame["payload"]]
        frame.insert(6, "text", [p.decode("utf-8", errors="backslashreplace") for p in frame["payload"]])
        return _utc(frame, "received")

    def counts(self, twin: str | None = None) -> dict[str, int]:
        """Rows held: ``series``, ``samples``, ``events``, ``text_records``, ``quarantine``."""
        cond, params = ("WHERE twin = ?", [twin]) if twin is not None else ("", [])
        sample_cond = "WHERE sid IN (SELECT sid FROM telemetry.series WHERE twin = ?)" if twin else ""
        out = {}
        out["series"] = self._q(f"SELECT count(*) FROM telemetry.series {cond}", params)[0][0]
        out["samples"] = self._q(f"SELECT count(*) FROM telemetry.samples {sample_cond}", params)[0][0]
        out["events"] = self._q(f"SELECT count(*) FROM telemetry.events {cond}", params)[0][0]
        out["text_records"] = self._q(f"SELECT count(*) FROM telemetry.text_records {cond}", params)[0][0]
        out["quarantine"] = self._q(f"SELECT count(*) FROM telemetry.quarantine {cond}", params)[0][0]
        return {k: int(v) for k, v in out.items()}

    def series_summary(self, twin: str | None = None) -> pd.DataFrame:
        """Per series: ``twin, node, signal, unit, samples, first, last``."""
        cond, params = ("WHERE s.twin = ?", [twin]) if twin is not None else ("", [])
        frame = self._df(
            "SELECT s.twin, s.node, s.signal, s.unit, count(x.ts) AS samples, min(x.ts) AS first, "
            "max(x.ts) AS last FROM telemetry.series s LEFT JOIN telemetry.samples x USING (sid) "
            f"{cond} GROUP BY ALL ORDER BY s.twin, s.node, s.signal",
            params,
        )
        return _utc(frame, "first", "last")

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run any SQL on the store (the tables are in schema ``telemetry``) and return a frame."""
        return self._df(query, params)

    # -- housekeeping --------------------------------------------------------------------
    def delete_older_than(
        self, cutoff: Any, twin: str | None = None, include: Sequence[str] = ("signals", "events")
    ) -> dict[str, int]:
        """Retention: delete data with a timestamp before ``cutoff``. ``include`` chooses among
        ``signals`` (samples and their rollups), ``events``, ``text_records`` and ``quarantine``
        (by received time). Returns rows deleted per table."""
        self._check_writable()
        allowed = ("signals", "events", "text_records", "quarantine")
        bad = [i for i in include if i not in allowed]
        if bad:
            raise DataError(f"unknown retention target(s) {bad}; expected some of {', '.join(allowed)}")
        cut = to_us(cutoff)
        twin_cond = " AND twin = ?" if twin is not None else ""
        tparams = [twin] if twin is not None else []
        sid_cond = " AND sid IN (SELECT sid FROM telemetry.series WHERE twin = ?)" if twin is not None else ""
        out: dict[str, int] = {}
        with self._transaction() as con:
            if "signals" in include:
                out["samples"] = con.execute(
                    f"DELETE FROM telemetry.samples WHERE ts < make_timestamp(?){sid_cond}", [cut, *tparams]
                ).fetchone()[0]
                con.execute(
                    f"DELETE FROM telemetry.rollups WHERE bucket < make_timestamp(?){sid_cond}",
                    [cut, *tparams],
                ).fetchall()
            if "events" in include:
                out["events"] = con.execute(
                    f"DELETE FROM telemetry.events WHERE ts < make_timestamp(?){twin_cond}", [cut, *tparams]
                ).fetchone()[0]
            if "text_records" in include:
                out["text_records"] = con.execute(
                    f"DELETE FROM telemetry.text_records WHERE ts < make_timestamp(?){twin_cond}",
                    [cut, *tparams],
                ).fetchone()[0]
            if "quarantine" in include:
                out["quarantine"] = con.execute(
                    f"DELETE FROM telemetry.quarantine WHERE received < make_timestamp(?){twin_cond}",
                    [cut, *tparams],
                ).fetchone()[0]
        return {k: int(v) for k, v in out.items()}

    def downsample(
        self, older_than: Any, every: Any, twin: str | None = None, value: str = "mean"
    ) -> DownsampleReport:
        """Replace raw samples older than ``older_than`` by one sample per bucket of width ``every``.

        Only whole buckets before the cutoff are touched. The replacing sample sits at the bucket
        start, carries the bucket's ``value`` aggregate (mean, min, max or last) and its worst
        quality; ``telemetry.rollups`` keeps count, mean, min, max and last of every bucket, so
        downsampling again to a coarser width combines the rollups exactly (count-weighted means).
        """
        self._check_writable()
        if value not in ("mean", "min", "max", "last"):
            raise DataError(f"downsample value must be mean, min, max or last, found {value!r}")
        width = duration_us(every)
        cut = to_us(older_than)
        cut -= cut % width
        sid_cond = (
            " AND x.sid IN (SELECT sid FROM telemetry.series WHERE twin = ?)" if twin is not None else ""
        )
        tparams = [twin] if twin is not None else []
        with self._transaction() as con:
            before = con.execute(
                f"SELECT count(*) FROM telemetry.samples x WHERE x.ts < make_timestamp(?){sid_cond}",
                [cut, *tparams],
            ).fetchone()[0]
            if before == 0:
                return DownsampleReport(0, 0, 0)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _tf_parts AS SELECT x.sid, "
                f"time_bucket(to_microseconds(?), x.ts, {_EPOCH_SQL}) AS bucket, x.ts, x.quality, "
                "coalesce(r.count, 1) AS n, coalesce(r.mean * r.count, x.value) AS total, "
                "coalesce(r.min, x.value) AS lo, coalesce(r.max, x.value) AS hi, "
                "coalesce(r.last, x.value) AS last_value, coalesce(r.last_ts, x.ts) AS last_ts "
                "FROM telemetry.samples x LEFT JOIN telemetry.rollups r ON r.sid = x.sid AND r.bucket = x.ts "
                f"WHERE x.ts < make_timestamp(?){sid_cond}",
                [width, cut, *tparams],
            ).fetchall()
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _tf_agg AS SELECT sid, bucket, sum(n) AS count, "
                "sum(total) / sum(n) AS mean, min(lo) AS min, max(hi) AS max, "
                "arg_max(last_value, last_ts) AS last, max(last_ts) AS last_ts, max(quality) AS quality "
                "FROM _tf_parts GROUP BY sid, bucket"
            ).fetchall()
            con.execute(
                f"DELETE FROM telemetry.samples x WHERE x.ts < make_timestamp(?){sid_cond}",
                [cut, *tparams],
            ).fetchall()
            con.execute(
                f"DELETE FROM telemetry.rollups x WHERE x.bucket < make_timestamp(?){sid_cond}",
                [cut, *tparams],
            ).fetchall()
            con.execute(
                "INSERT INTO telemetry.rollups SELECT sid, bucket, ?, count, mean, min, max, last, last_ts FROM _tf_agg",
                [width],
            ).fetchall()
            con.execute(
                f'INSERT INTO telemetry.samples SELECT sid, bucket, "{value}", quality FROM _tf_agg'
            ).fetchall()
            after = con.execute("SELECT count(*) FROM _tf_agg").fetchone()[0]
            con.execute("DROP TABLE _tf_parts").fetchall()
            con.execute("DROP TABLE _tf_agg").fetchall()
        return DownsampleReport(int(before), int(after), int(after))


def _screen(
    batch: SampleBatch,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], list[tuple[int, str]]]:
    """A batch as typed arrays holding only its storable samples, and ``(index, reason)`` of the others."""
    n = len(batch)
    try:
        sid = np.asarray(batch.sid, dtype=np.int64)
        ts = np.asarray(batch.ts_us, dtype=np.int64)
        value = np.asarray(batch.value, dtype=np.float64)
        quality = np.asarray(batch.quality, dtype=np.int64)
        if ts.shape != (n,) or value.shape != (n,) or quality.shape != (n,) or sid.shape != (n,):
            raise ValueError("columns of unequal length")
        if np.asarray(batch.ts_us).dtype.kind not in "iu":  # floats would be truncated silently
            raise TypeError("times are not integers")
    except (OverflowError, ValueError, TypeError):
        return _screen_slow(batch)
    ok = (
        (ts >= TIME_MIN_US)
        & (ts <= TIME_MAX_US)
        & np.isfinite(value)
        & (quality >= 0)
        & (quality <= int(max(Quality)))
        & (sid >= 0)
        & (sid <= np.iinfo(np.int32).max)
    )
    if ok.all():
        bad: list[tuple[int, str]] = []
    else:
        bad = [
            (
                int(i),
                sample_problem(int(ts[i]), float(value[i]), int(quality[i]))
                or f"series id {sid[i]} is invalid",
            )
            for i in np.flatnonzero(~ok)
        ]
        sid, ts, value, quality = sid[ok], ts[ok], value[ok], quality[ok]
    return (sid.astype(np.int32), ts, value, quality.astype(np.uint8)), bad


def _screen_slow(
    batch: SampleBatch,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], list[tuple[int, str]]]:
    """:func:`_screen` for batches with values numpy cannot take whole (huge or non-numeric ones)."""
    good: list[int] = []
    bad: list[tuple[int, str]] = []
    columns = (batch.sid, batch.ts_us, batch.value, batch.quality)
    n = min(len(c) for c in columns)
    for i in range(max(len(c) for c in columns)):
        if i >= n:
            bad.append((i, "sample is incomplete (the batch columns have unequal lengths)"))
            continue
        ts = batch.ts_us[i]
        problem = (
            f"time {ts!r} is not an integer number of microseconds"
            if isinstance(ts, bool) or not isinstance(ts, int | np.integer)
            else sample_problem(ts, batch.value[i], batch.quality[i])
        )
        s = batch.sid[i]
        if problem is None and (
            isinstance(s, bool) or not isinstance(s, int | np.integer) or not 0 <= s < 2**31
        ):
            problem = f"series id {s!r} is invalid"
        if problem is None:
            good.append(i)
        else:
            bad.append((i, problem))
    arrays = (
        np.array([batch.sid[i] for i in good], dtype=np.int32),
        np.array([batch.ts_us[i] for i in good], dtype=np.int64),
        np.array([batch.value[i] for i in good], dtype=np.float64),
        np.array([batch.quality[i] for i in good], dtype=np.uint8),
    )
    return arrays, bad


def _insert_arrow(con: Any, table_name: str, table: pa.Table) -> None:
    """Bulk-insert an Arrow table into ``telemetry.<table_name>`` (its columns, by name)."""
    view = f"_tf_{table_name}"
    con.register(view, table)
    try:
        columns = ", ".join(table.column_names)
        con.execute(f"INSERT INTO telemetry.{table_name} ({columns}) SELECT {columns} FROM {view}").fetchall()
    finally:
        con.unregister(view)


def _record_frame(
    records: pd.DataFrame | Sequence[dict[str, Any]], what: str, required: tuple[str, ...]
) -> pd.DataFrame:
    """Records as a frame; unless it is empty, it must have the ``required`` columns."""
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
    if not frame.empty and any(c not in frame.columns for c in required):
        raise DataError(f"{what} need at least {' and '.join(repr(c) for c in required)}")
    return frame


def _column(frame: pd.DataFrame, name: str, n: int) -> list[Any]:
    if name not in frame.columns:
        return [None] * n
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else v for v in frame[name]]


def _timestamps_us(values: Iterable[Any] | pd.Series) -> np.ndarray:
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    if pd.api.types.is_datetime64_any_dtype(series):
        s = series
        if getattr(s.dt, "tz", None) is None:
            s = s.dt.tz_localize("UTC")
        return s.dt.tz_convert("UTC").dt.as_unit("us").astype("int64").to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        return np.round(series.to_numpy(dtype=np.float64) * 1_000_000).astype(np.int64)
    return np.array([to_us(v) for v in series], dtype=np.int64)


def _time_filter(column: str, start: Any, end: Any) -> tuple[str, list[Any]]:
    where, params = "", []
    if start is not None:
        where += f" AND {column} >= make_timestamp(?)"
        params.append(to_us(start))
    if end is not None:
        where += f" AND {column} < make_timestamp(?)"
        params.append(to_us(end))
    return where, params


def open_store(path: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> DuckDBStore:
    """Open the store at ``path`` (see :func:`resolve_store_path` for the default)."""
    where = resolve_store_path(path)
    if "://" in where:
        scheme = where.split("://", 1)[0]
        if scheme != "duckdb":
            raise StoreError(
                f"store {where!r}: only embedded DuckDB stores (a file path or ':memory:') are supported"
            )
        where = where.split("://", 1)[1]
    return DuckDBStore(where, read_only=read_only)
