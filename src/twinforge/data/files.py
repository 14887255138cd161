"""File ingest: CSV or Parquet columns mapped onto a twin's signals, with unit conversion.

A :class:`FileMapping` declares which column holds the time and which columns feed which
``(node, signal)``, in which source unit. YAML form::

    twin: pump-station            # optional: checked against the twin's name
    timestamp:
      column: datetime
      format: "%Y-%m-%d %H:%M:%S"  # optional strftime format; default ISO 8601
      timezone: Europe/Moscow      # zone of times without an offset; default UTC
      # unit: s                    # instead of a format: epoch numbers in s, ms, us or ns
    delimiter: ";"                 # CSV only; sniffed when absent
    columns:
      Temperature: {node: motor_thermometer, signal: Temperature, unit: degF}
      Current: current_meter.Current          # shorthand "node.signal", already in the signal unit

Rules: values are converted from the mapping's unit to the signal's unit in the twin (its
``Signal.unit``, else the unit of the state it observes). Empty cells and the usual NA tokens are
missing values (counted, not stored). A cell that is not a number is quarantined with its row and
the reason; the row's other cells are stored. A row whose time cannot be read is quarantined whole.
Values outside the signal's measuring range are stored with quality ``OUT_OF_RANGE``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twinforge.data.errors import DataError, MappingError
from twinforge.data.model import Quality, QuarantineRecord, UnitConverter
from twinforge.data.signals import SignalIndex, SignalInfo, _suggest
from twinforge.data.store import SampleBatch, TimeSeriesStore
from twinforge.errors import UnitError
from twinforge.spec import TwinSpec

_EPOCH_FACTORS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}


class ColumnMap(BaseModel):
    """Where one file column goes: ``node``, ``signal``, and the unit the file uses."""

    model_config = ConfigDict(extra="forbid")

    node: str
    signal: str
    unit: str | None = Field(
        default=None, description="Unit of the values in the file; default: the signal unit"
    )

    @classmethod
    def parse(cls, value: Any) -> ColumnMap:
        if isinstance(value, ColumnMap):
            return value
        if isinstance(value, str):
            if "." not in value:
                raise ValueError(f"expected 'node.signal' or a mapping with node and signal, found {value!r}")
            node, signal = value.split(".", 1)
            return cls(node=node.strip(), signal=signal.strip())
        return cls.model_validate(value)


class TimestampColumn(BaseModel):
    """The time column and how to read it."""

    model_config = ConfigDict(extra="forbid")

    column: str
    format: str | None = Field(default=None, description="strftime format; default ISO 8601")
    unit: Literal["s", "ms", "us", "ns"] | None = Field(
        default=None, description="Epoch numbers in this unit"
    )
    timezone: str | None = Field(default=None, description="Zone of times without offset; default UTC")


class FileMapping(BaseModel):
    """Columns of a CSV/Parquet file → signals of a twin. Usable from YAML or Python."""

    model_config = ConfigDict(extra="forbid")

    twin: str | None = None
    timestamp: TimestampColumn
    columns: dict[str, ColumnMap]
    delimiter: str | None = None
    decimal: str = "."

    @field_validator("timestamp", mode="before")
    @classmethod
    def _ts_shorthand(cls, v: Any) -> Any:
        return {"column": v} if isinstance(v, str) else v

    @field_validator("columns", mode="before")
    @classmethod
    def _column_shorthand(cls, v: Any) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, val in v.items():
                try:
                    out[str(k)] = ColumnMap.parse(val)
                except (ValueError, ValidationError) as exc:
                    raise ValueError(f"column {k!r}: {exc}") from None
            return out
        return v

    @classmethod
    def from_yaml(cls, path: str | Path) -> FileMapping:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise MappingError(f"cannot read mapping {p}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise MappingError(f"{p}: not valid YAML: {exc}") from None
        return cls.from_data(data, source=str(p))

    @classmethod
    def from_data(cls, data: Any, source: str = "<mapping>") -> FileMapping:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            lines = [
                f"  {source}: at {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
                for err in exc.errors()
            ]
            raise MappingError(f"invalid file mapping {source}:\n" + "\n".join(lines)) from None

    @classmethod
    def from_signal_names(
        cls, spec: TwinSpec, columns: list[str], timestamp: str | TimestampColumn, **kw: Any
    ) -> FileMapping:
        """Map every column whose name is the name of exactly one signal of the twin (e.g. SKAB
        files onto ``examples/pump_station.yaml``)."""
        index = SignalIndex(spec)
        cols = {}
        for c in columns:
            info = index.by_signal_name(c)
            if info is not None:
                cols[c] = ColumnMap(node=info.node, signal=info.signal)
        if not cols:
            raise MappingError(f"no column matches a signal name of twin {spec.name!r}")
        ts = TimestampColumn(column=timestamp) if isinstance(timestamp, str) else timestamp
        return cls(twin=spec.name, timestamp=ts, columns=cols, **kw)

    def resolve(self, spec: TwinSpec) -> list[ResolvedColumn]:
        """Check the mapping against a twin; every problem is reported in one :class:`MappingError`."""
        index = SignalIndex(spec)
        problems: list[str] = []
        if self.twin is not None and self.twin != spec.name:
            problems.append(f"mapping is for twin {self.twin!r}, not {spec.name!r}")
        resolved: list[ResolvedColumn] = []
        for col, cm in self.columns.items():
            try:
                info = index.lookup(cm.node, cm.signal, where=f"column {col!r}")
            except MappingError as exc:
                problems.append(str(exc))
                continue
            try:
                conv = UnitConverter(cm.unit if cm.unit is not None else info.unit, info.unit)
            except UnitError as exc:
                problems.append(
                    f"column {col!r}: unit {cm.unit!r} does not fit signal {info.label} in {info.unit or 'dimensionless'!r}: {exc}"
                )
                continue
            resolved.append(ResolvedColumn(col, info, conv))
        if problems:
            raise MappingError(f"file mapping does not fit twin {spec.name!r}:\n  " + "\n  ".join(problems))
        return resolved


@dataclass(frozen=True)
class ResolvedColumn:
    column: str
    info: SignalInfo
    convert: UnitConverter


@dataclass
class ParsedChunk:
    """One chunk of a file, parsed: per column, times (µs), values (signal unit) and quality."""

    columns: list[tuple[ResolvedColumn, np.ndarray, np.ndarray, np.ndarray]]
    quarantine: list[QuarantineRecord]
    rows: int
    missing_cells: int
    rows_bad_time: int
    cells_bad: int


@dataclass
class FileIngestReport:
    file: str
    rows: int = 0
    samples_stored: int = 0
    missing_cells: int = 0
    cells_quarantined: int = 0
    rows_quarantined: int = 0  # rows whose time could not be read (all cells)
    quarantine_records: int = 0
    out_of_range: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    ignored_columns: list[str] = field(default_factory=list)

    def as_rows(self) -> list[tuple[str, str]]:
        return [
            ("file", self.file),
            ("rows read", str(self.rows)),
            ("samples stored", str(self.samples_stored)),
            ("out of range (stored, flagged)", str(self.out_of_range)),
            ("missing cells (empty)", str(self.missing_cells)),
            ("bad cells quarantined", str(self.cells_quarantined)),
            ("rows with bad time quarantined", str(self.rows_quarantined)),
            ("quarantine records", str(self.quarantine_records)),
            ("time span", f"{self.first} → {self.last}" if self.first is not None else "-"),
            ("ignored columns", ", ".join(self.ignored_columns) or "-"),
        ]


def _file_kind(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return "parquet"
    if suffix.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        return "csv"
    raise DataError(f"{path}: unsupported file type {path.suffix!r}; expected .csv or .parquet")


def _sniff_delimiter(path: Path) -> str:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
        sample = fh.read(64 * 1024)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_chunks(
    path: Path, mapping: FileMapping, chunk_rows: int
) -> tuple[list[str], Iterator[pd.DataFrame]]:
    kind = _file_kind(path)
    if not path.exists():
        raise DataError(f"file {path} does not exist")
    if kind == "csv":
        sep = mapping.delimiter or _sniff_delimiter(path)
        try:
            header = list(pd.read_csv(path, sep=sep, nrows=0).columns)
            reader = pd.read_csv(path, sep=sep, dtype=str, chunksize=chunk_rows, keep_default_na=True)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{path}: cannot read as CSV: {exc}") from None
        return header, iter(reader)
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from None
    header = list(pf.schema_arrow.names)
    return header, (b.to_pandas() for b in pf.iter_batches(batch_size=chunk_rows))


def _parse_times(raw: pd.Series, spec: TimestampColumn) -> np.ndarray:
    """Times as µs since the epoch (UTC); int64 min where unreadable."""
    bad = np.iinfo(np.int64).min
    if spec.unit is not None:
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        out = np.full(len(num), bad, dtype=np.int64)
        ok = np.isfinite(num)
        out[ok] = np.round(num[ok] * _EPOCH_FACTORS[spec.unit]).astype(np.int64)
        return out
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
    else:
        text = raw.astype("string")
        try:
            parsed = pd.to_datetime(text, format=spec.format or "ISO8601", errors="coerce")
        except ValueError:  # mixed offsets: read one by one
            parsed = pd.Series(
                [pd.to_datetime(v, format=spec.format or "ISO8601", errors="coerce", utc=True) for v in text],
                index=raw.index,
            )
            parsed = pd.to_datetime(parsed, utc=True)
    if getattr(parsed.dt, "tz", None) is None:
        try:
            parsed = parsed.dt.tz_localize(spec.timezone or "UTC", ambiguous="NaT", nonexistent="NaT")
        except Exception as exc:
            raise MappingError(
                f"timestamp timezone {spec.timezone!r} is not a known time zone: {exc}"
            ) from None
    parsed = parsed.dt.tz_convert("UTC").dt.as_unit("us")
    out = parsed.astype("int64").to_numpy(copy=True)
    out[parsed.isna().to_numpy()] = bad
    return out


def parse_file(
    spec: TwinSpec, path: str | Path, mapping: FileMapping, *, chunk_rows: int = 200_000
) -> tuple[list[str], Iterator[ParsedChunk]]:
    """Read and check a file chunk by chunk (no store involved): returns the ignored columns and
    an iterator of :class:`ParsedChunk`."""
    p = Path(path)
    resolved = mapping.resolve(spec)
    header, chunks = _read_chunks(p, mapping, chunk_rows)
    needed = [mapping.timestamp.column] + [r.column for r in resolved]
    absent = [c for c in needed if c not in header]
    if absent:
        raise MappingError(
            f"{p}: column(s) {', '.join(repr(c) for c in absent)} not in the file"
            + "".join(_suggest(c, header) for c in absent[:1])
            + f"; its columns: {', '.join(header)}"
        )
    ignored = [c for c in header if c not in needed]
    return ignored, _parse_chunks(spec, p, mapping, resolved, header, chunks)


def _parse_chunks(
    spec: TwinSpec,
    path: Path,
    mapping: FileMapping,
    resolved: list[ResolvedColumn],
    header: list[str],
    chunks: Iterator[pd.DataFrame],
) -> Iterator[ParsedChunk]:
    bad_time = np.iinfo(np.int64).min
    csv_like = _file_kind(path) == "csv"
    row0 = 0
    for chunk in chunks:
        n = len(chunk)
        ts = _parse_times(chunk[mapping.timestamp.column], mapping.timestamp)
        time_ok = ts != bad_time
        problems: dict[int, list[str]] = {}
        for i in np.flatnonzero(~time_ok):
            rawt = chunk[mapping.timestamp.column].iloc[i]
            what = "missing" if pd.isna(rawt) else f"{rawt!r} cannot be read"
            fmt = mapping.timestamp.format or (
                f"epoch {mapping.timestamp.unit}" if mapping.timestamp.unit else "ISO 8601"
            )
            problems[int(i)] = [
                f"timestamp in column {mapping.timestamp.column!r} is {what} (expected {fmt})"
            ]
        columns = []
        missing = cells_bad = 0
        for rc in resolved:
            raw = chunk[rc.column]
            if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
                num = raw.to_numpy(dtype=np.float64, na_value=np.nan)
                na = np.isnan(num)
                badv = np.isinf(num)
            else:
                text = raw.astype("string").str.strip()
                na = (text.isna() | (text == "")).to_numpy(dtype=bool)
                if mapping.decimal != ".":
                    text = text.str.replace(mapping.decimal, ".", regex=False)
                num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                badv = ~na & ~np.isfinite(num)
            missing += int((na & time_ok).sum())
            for i in np.flatnonzero(badv & time_ok):
                problems.setdefault(int(i), []).append(
                    f"column {rc.column!r}: {raw.iloc[i]!r} is not a finite number (signal {rc.info.label})"
                )
                cells_bad += 1
            ok = ~na & ~badv & time_ok
            values = rc.convert.array(num[ok])
            quality = np.zeros(len(values), dtype=np.uint8)
            if rc.info.range is not None:
                lo, hi = rc.info.range
                quality[(values < lo) | (values > hi)] = int(Quality.OUT_OF_RANGE)
            columns.append((rc, ts[ok], values, quality))
        records = []
        for i, reasons in sorted(problems.items()):
            row = chunk.iloc[i]
            payload = {c: (None if pd.isna(row[c]) else str(row[c])) for c in chunk.columns}
            line = row0 + i + (2 if csv_like else 1)
            records.append(
                QuarantineRecord(
                    source="file",
                    location=f"{path.name} {'line' if csv_like else 'row'} {line}",
                    payload=json.dumps(payload, ensure_ascii=False).encode(),
                    reason="; ".join(reasons),
                    twin=spec.name,
                )
            )
        yield ParsedChunk(columns, records, n, missing, int((~time_ok).sum()), cells_bad)
        row0 += n


def ingest_file(
    spec: TwinSpec,
    path: str | Path,
    mapping: FileMapping,
    store: TimeSeriesStore,
    *,
    chunk_rows: int = 200_000,
) -> FileIngestReport:
    """Import a CSV/Parquet file into the store through ``mapping`` (checked against ``spec`` first)."""
    ignored, chunks = parse_file(spec, path, mapping, chunk_rows=chunk_rows)
    report = FileIngestReport(file=str(path), ignored_columns=ignored)
    lo = hi = None
    for chunk in chunks:
        batch = SampleBatch()
        for rc, ts, values, quality in chunk.columns:
            sid = store.series_id(spec.name, rc.info.node, rc.info.signal, rc.info.unit)
            batch.sid.extend([sid] * len(ts))
            batch.ts_us.extend(ts.tolist())
            batch.value.extend(values.tolist())
            batch.quality.extend(quality.tolist())
            report.out_of_range += int((quality == Quality.OUT_OF_RANGE).sum())
            if len(ts):
                lo = int(ts.min()) if lo is None else min(lo, int(ts.min()))
                hi = int(ts.max()) if hi is None else max(hi, int(ts.max()))
        report.samples_stored += store.write_batch(batch, chunk.quarantine)
        report.rows += chunk.rows
        report.missing_cells += chunk.missing_cells
        report.cells_quarantined += chunk.cells_bad
        report.rows_quarantined += chunk.rows_bad_time
        report.quarantine_records += len(chunk.quarantine)
    if lo is not None and hi is not None:
        report.first = pd.Timestamp(lo, unit="us", tz="UTC")
        report.last = pd.Timestamp(hi, unit="us", tz="UTC")
    return report
