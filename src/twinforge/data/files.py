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
missing values (counted, not stored). A cell that is not a finite number is quarantined with its
row and the reason; the row's other cells are stored. A row whose time cannot be read, or lies
outside the store's window (1970..2262), is quarantined whole, and so is a CSV row whose number of
fields differs from the header's. Values outside the signal's measuring range are stored with
quality ``OUT_OF_RANGE``. Quarantine records name the row as ``<file name> line N`` (CSV: the
header is line 1 and N counts records, so it equals the line number unless values span lines or
blank lines are skipped) or ``<file name> row N`` (Parquet, first row 1).

Nothing is half-done silently: should the file become unreadable part-way (an unterminated quote,
a corrupt Parquet page), the rows before are stored, and the report says where reading stopped and
how many lines were not read (a quarantine record says so, too). Re-running a file is safe and
resumes it: samples are keyed by (signal, time), so rows stored before are rewritten, not
duplicated, and the file's earlier quarantine records (matched by twin, file name and line) are
replaced by the new run's.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
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
from twinforge.data.signals import SignalIndex, SignalInfo
from twinforge.data.store import TIME_MAX_US, TIME_MIN_US, SampleBatch, TimeSeriesStore, time_problem
from twinforge.errors import UnitError, did_you_mean
from twinforge.spec import TwinSpec

_EPOCH_FACTORS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}
#: Cells read as missing: pandas' default NA tokens (``read_csv(keep_default_na=True)``).
_NA_TOKENS = [
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"),
    *("<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
]
#: How many quarantined rows a report lists one by one (all are in the store's quarantine).
REPORT_PROBLEMS = 1000


class FileReadStopped(DataError):
    """The file could not be read past ``line`` (CSV line, or Parquet row, numbered from 1)."""

    def __init__(self, path: Path, line: int, reason: str, position: str = "line") -> None:
        super().__init__(f"{path}: reading stopped at {position} {line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


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
            from twinforge.inputs import read_yaml  # bounded: size, binary, UTF-8, depth, aliases, tags

            data = read_yaml(p, "file mapping")
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
    #: first and last line (CSV) or row (Parquet) this chunk covers, malformed rows included
    span: tuple[int, int] | None = None
    rows_malformed: int = 0
    rows_stored: int = 0


@dataclass
class FileIngestReport:
    """What a file ingest stored and what it did not (every quarantined row is in the store's
    quarantine; ``problems`` lists the first :data:`REPORT_PROBLEMS` of them)."""

    file: str
    rows: int = 0
    samples_stored: int = 0
    missing_cells: int = 0
    cells_quarantined: int = 0
    rows_quarantined: int = 0  # rows quarantined whole: time unreadable or outside the window
    quarantine_records: int = 0
    out_of_range: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    ignored_columns: list[str] = field(default_factory=list)
    rows_stored: int = 0  # rows with at least one value stored
    rows_malformed: int = 0  # CSV rows with more or fewer fields than the header (quarantined whole)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    position: str = "line"  # how rows are numbered: "line" (CSV, header = line 1) or "row" (Parquet)
    last_line: int | None = None  # last line (CSV) / row (Parquet) handled, when any
    stopped_at: int | None = None  # line where reading stopped, when it did
    stopped: str | None = None  # why
    lines_not_read: int | None = None  # lines from ``stopped_at`` to the end of the file

    @property
    def complete(self) -> bool:
        """Whether every row of the file was read (and stored or quarantined)."""
        return self.stopped is None

    def as_rows(self) -> list[tuple[str, str]]:
        rows = [
            ("file", self.file),
            ("rows read", str(self.rows)),
            ("rows stored (at least one value)", str(self.rows_stored)),
            ("samples stored", str(self.samples_stored)),
            ("out of range (stored, flagged)", str(self.out_of_range)),
            ("missing cells (empty)", str(self.missing_cells)),
            ("bad cells quarantined (row's other cells stored)", str(self.cells_quarantined)),
            ("rows with bad time quarantined", str(self.rows_quarantined)),
            ("malformed rows quarantined (wrong number of fields)", str(self.rows_malformed)),
            ("quarantine records", str(self.quarantine_records)),
            ("time span", f"{self.first} → {self.last}" if self.first is not None else "-"),
            ("ignored columns", ", ".join(self.ignored_columns) or "-"),
        ]
        if self.stopped is not None:
            rest = (
                f"{self.lines_not_read} {self.position}(s) from there on"
                if self.lines_not_read is not None
                else "the rest"
            )
            rows.append(
                ("NOT READ", f"{rest}: reading stopped at {self.position} {self.stopped_at}: {self.stopped}")
            )
        return rows


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


@dataclass
class _RawChunk:
    frame: pd.DataFrame
    lines: np.ndarray  # line (CSV, header = 1) or row (Parquet, from 1) of each row of ``frame``
    malformed: list[QuarantineRecord]
    span: tuple[int, int] | None


def _csv_header(path: Path, sep: str) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            first = fh.readline(1 << 20)  # the header line only: the body may hold bad bytes
        header = next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")], delimiter=sep), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the CSV header line: {exc}") from None
    if not header:
        raise DataError(f"{path}: the file is empty (no header line)")
    seen: dict[str, int] = {}
    names = []
    for name in header:  # repeated names get .1, .2 (as pandas does)
        n = seen.get(name, 0)
        seen[name] = n + 1
        names.append(name if n == 0 else f"{name}.{n}")
    return names


def _read_chunks(
    path: Path, mapping: FileMapping, chunk_rows: int, twin: str | None = None
) -> tuple[list[str], Iterator[_RawChunk]]:
    kind = _file_kind(path)
    if not path.exists():
        raise DataError(f"file {path} does not exist")
    if kind == "csv":
        sep = mapping.delimiter or _sniff_delimiter(path)
        header = _csv_header(path, sep)
        return header, _csv_chunks(path, sep, header, chunk_rows, twin)
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from None
    header = list(pf.schema_arrow.names)
    return header, _parquet_chunks(path, pf, chunk_rows)


def _csv_chunks(
    path: Path, sep: str, header: list[str], chunk_rows: int, twin: str | None
) -> Iterator[_RawChunk]:
    """CSV rows as text (Arrow's streaming reader), numbered by line; a row whose number of fields
    differs from the header's becomes a quarantine record instead of stopping the read."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    pending: list[tuple[int, QuarantineRecord]] = []  # malformed rows not yet handed out

    def malformed(row: Any) -> str:
        line = int(row.number) if row.number is not None else 0
        spans = len(row.text.splitlines())
        reason = (
            f"row has {row.actual_columns} field(s), the header has {row.expected_columns} "
            f"(delimiter {sep!r})"
            + (f"; it runs over {spans} lines: an unterminated quote?" if spans > 1 else "")
            + "; the row is not stored"
        )
        where = f"{path.name} line {line}" if line else f"{path.name} (line unknown)"
        pending.append((line, QuarantineRecord("file", where, row.text.encode(), reason, twin)))
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=sep, newlines_in_values=True, invalid_row_handler=malformed
            ),
            convert_options=pacsv.ConvertOptions(  # bytes: a bad byte spoils one cell, not the file
                column_types=dict.fromkeys(header, pa.binary()),
                null_values=_NA_TOKENS,
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None
    cursor = 2  # line of the next row

    def take(upto: int | None) -> list[QuarantineRecord]:
        pending.sort(key=lambda p: p[0])
        out = [rec for line, rec in pending if upto is None or line <= upto]
        pending[:] = [(line, rec) for line, rec in pending if upto is not None and line > upto]
        return out

    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            if pending:
                last = max(cursor, *(line for line, _ in pending))
                yield _RawChunk(
                    pd.DataFrame(columns=header), np.zeros(0, np.int64), take(None), (cursor, last)
                )
            text = str(exc)
            if "straddl" in text or "out of sync" in text:
                text += ' — usually an unterminated quote (") that runs on to the end of the file'
            raise FileReadStopped(path, cursor, text) from None
        frame = _text_frame(batch)
        for start in range(0, max(len(frame), 1), chunk_rows):
            part = frame.iloc[start : start + chunk_rows]
            n = len(part)
            lines = np.arange(cursor, cursor + n, dtype=np.int64)
            if n:
                for line in sorted(line for line, _ in pending):  # skipped malformed rows shift the rest
                    if line > lines[-1]:
                        break
                    lines[lines >= line] += 1
            last = int(lines[-1]) if n else cursor - 1
            records = take(last)
            span = (cursor, max(last, cursor)) if n or records else None
            cursor = last + 1
            yield _RawChunk(part.reset_index(drop=True), lines, records, span)
    if pending:  # malformed rows after the last good one
        last = max(cursor, *(line for line, _ in pending))
        yield _RawChunk(pd.DataFrame(columns=header), np.zeros(0, np.int64), take(None), (cursor, last))


def _text_frame(batch: Any) -> pd.DataFrame:
    """A batch of byte columns as text; a cell that is not UTF-8 gets ``\\x..`` escapes, which no
    time or number parses, so its row is quarantined with the bytes shown."""
    import pyarrow as pa
    import pyarrow.compute as pac

    columns = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        try:
            columns[name] = pac.cast(col, pa.string()).to_pandas()
        except pa.ArrowInvalid:
            columns[name] = pd.Series(
                [
                    None if v is None else v.decode("utf-8", errors="backslashreplace")
                    for v in col.to_pylist()
                ],
                dtype=object,
            )
    return pd.DataFrame(columns)


def _parquet_chunks(path: Path, pf: Any, chunk_rows: int) -> Iterator[_RawChunk]:
    row = 1
    batches = pf.iter_batches(batch_size=chunk_rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # a corrupt page or column chunk
            raise FileReadStopped(path, row, f"cannot read as Parquet: {exc}", "row") from None
        frame = batch.to_pandas()
        n = len(frame)
        lines = np.arange(row, row + n, dtype=np.int64)
        yield _RawChunk(frame, lines, [], (row, row + n - 1) if n else None)
        row += n


def _parse_times(raw: pd.Series, spec: TimestampColumn) -> np.ndarray:
    """Times as µs since the epoch (UTC); int64 min where unreadable."""
    bad = np.iinfo(np.int64).min
    if spec.unit is not None:
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        out = np.full(len(num), bad, dtype=np.int64)
        us = num * _EPOCH_FACTORS[spec.unit]
        ok = np.isfinite(us)
        # beyond int64 the cast would wrap: clip to just outside the store's window instead
        out[ok] = np.round(np.clip(us[ok], TIME_MIN_US - 1, TIME_MAX_US + 1)).astype(np.int64)
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
    header, chunks = _read_chunks(p, mapping, chunk_rows, spec.name)
    needed = [mapping.timestamp.column] + [r.column for r in resolved]
    absent = [c for c in needed if c not in header]
    if absent:
        raise MappingError(
            f"{p}: column(s) {', '.join(repr(c) for c in absent)} not in the file"
            + "".join(did_you_mean(c, header, cutoff=0.5) for c in absent[:1])
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
    chunks: Iterator[_RawChunk],
) -> Iterator[ParsedChunk]:
    bad_time = np.iinfo(np.int64).min
    csv_like = _file_kind(path) == "csv"
    tcol = mapping.timestamp.column
    for raw_chunk in chunks:
        chunk, lines = raw_chunk.frame, raw_chunk.lines
        n = len(chunk)
        ts = _parse_times(chunk[tcol], mapping.timestamp) if n else np.zeros(0, np.int64)
        readable = ts != bad_time
        time_ok = readable & (ts >= TIME_MIN_US) & (ts <= TIME_MAX_US)
        problems: dict[int, list[str]] = {}
        for i in np.flatnonzero(~time_ok):
            rawt = chunk[tcol].iloc[i]
            if readable[i]:
                if mapping.timestamp.unit is not None:  # the number itself, before any clipping
                    problem = time_problem(float(rawt) * _EPOCH_FACTORS[mapping.timestamp.unit])
                else:
                    problem = time_problem(int(ts[i]))
                problems[int(i)] = [f"timestamp {_cell(rawt)} in column {tcol!r}: {problem}"]
                continue
            what = "missing" if pd.isna(rawt) else f"{_cell(rawt)} cannot be read"
            fmt = mapping.timestamp.format or (
                f"epoch {mapping.timestamp.unit}" if mapping.timestamp.unit else "ISO 8601"
            )
            problems[int(i)] = [f"timestamp in column {tcol!r} is {what} (expected {fmt})"]
        columns = []
        missing = cells_bad = 0
        stored_any = np.zeros(n, dtype=bool)
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
                    f"column {rc.column!r}: {_cell(raw.iloc[i])} is not a finite number (signal {rc.info.label})"
                )
                cells_bad += 1
            ok = ~na & ~badv & time_ok
            values = rc.convert.array(num[ok])
            finite = np.isfinite(values)
            if not finite.all():  # finite in the file's unit, not in the signal's
                for i in np.flatnonzero(ok)[~finite]:
                    problems.setdefault(int(i), []).append(
                        f"column {rc.column!r}: {_cell(raw.iloc[i])} {rc.convert.from_unit} is not a finite "
                        f"number in {rc.info.unit or 'the signal unit'} (signal {rc.info.label})"
                    )
                    cells_bad += 1
                ok[np.flatnonzero(ok)[~finite]] = False
                values = values[finite]
            stored_any |= ok
            quality = np.zeros(len(values), dtype=np.uint8)
            if rc.info.range is not None:
                lo, hi = rc.info.range
                quality[(values < lo) | (values > hi)] = int(Quality.OUT_OF_RANGE)
            columns.append((rc, ts[ok], values, quality))
        records = []
        for i, reasons in sorted(problems.items()):
            row = chunk.iloc[i]
            payload = {c: (None if pd.isna(row[c]) else str(row[c])) for c in chunk.columns}
            records.append(
                QuarantineRecord(
                    source="file",
                    location=f"{path.name} {'line' if csv_like else 'row'} {int(lines[i])}",
                    payload=json.dumps(payload, ensure_ascii=False).encode(),
                    reason="; ".join(reasons),
                    twin=spec.name,
                )
            )
        malformed = raw_chunk.malformed
        records = sorted([*records, *malformed], key=lambda r: _line_of(r.location))
        yield ParsedChunk(
            columns,
            records,
            n + len(malformed),
            missing,
            int((~time_ok).sum()),
            cells_bad,
            span=raw_chunk.span,
            rows_malformed=len(malformed),
            rows_stored=int(stored_any.sum()),
        )


def _cell(value: Any, width: int = 60) -> str:
    """A cell for a reason text: its repr, shortened; a value spanning lines is pointed out."""
    text = repr(value)
    lines = len(value.splitlines()) if isinstance(value, str) else 1
    if len(text) > width:
        text = text[: width - 1] + "…"
    if lines > 1:
        text += f" (a value of {lines} lines: an unterminated quote?)"
    return text


def _line_of(location: str) -> int:
    tail = location.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _open_text(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8", errors="backslashreplace", newline="")  # type: ignore[operator]


def _lines_from(path: Path, line: int, excerpt_lines: int = 5) -> tuple[int, bytes]:
    """How many lines the file has from ``line`` (1-based) to its end, and the first few of them."""
    count, excerpt = 0, []
    with _open_text(path) as fh:
        for i, text in enumerate(fh, start=1):
            if i >= line:
                count += 1
                if len(excerpt) < excerpt_lines:
                    excerpt.append(text[:1000])
    return count, "".join(excerpt).encode()


def ingest_file(
    spec: TwinSpec,
    path: str | Path,
    mapping: FileMapping,
    store: TimeSeriesStore,
    *,
    chunk_rows: int = 200_000,
) -> FileIngestReport:
    """Import a CSV/Parquet file into the store through ``mapping`` (checked against ``spec`` first).

    The report says exactly what was stored and what was not. Problems in the mapping or the file's
    header raise before anything is stored; once rows are being stored, nothing raises: a file that
    turns unreadable part-way, or a store write that fails, ends the import with
    ``report.stopped`` / ``report.stopped_at`` set (the rows before are stored). Re-running the
    same file is safe: rows are rewritten, not duplicated, and quarantine records are replaced.
    """
    p = Path(path)
    ignored, chunks = parse_file(spec, p, mapping, chunk_rows=chunk_rows)
    word = "line" if _file_kind(p) == "csv" else "row"
    report = FileIngestReport(file=str(path), ignored_columns=ignored, position=word)
    lo = hi = None
    try:
        for chunk in chunks:
            batch = SampleBatch()
            for rc, ts, values, quality in chunk.columns:
                sid = store.series_id(spec.name, rc.info.node, rc.info.signal, rc.info.unit)
                batch.sid.extend([sid] * len(ts))
                batch.ts_us.extend(ts.tolist())
                batch.value.extend(values.tolist())
                batch.quality.extend(quality.tolist())
            try:
                if chunk.span is not None:  # this run's records replace those of an earlier run
                    store.clear_file_quarantine(spec.name, p.name, *chunk.span)
                report.samples_stored += store.write_batch(batch, chunk.quarantine)
            except Exception as exc:  # the store failed, not the file: say how far the import got
                first = chunk.span[0] if chunk.span is not None else (report.last_line or 0) + 1
                report.stopped_at, report.stopped = first, f"store write failed: {exc}"
                if word == "line":
                    report.lines_not_read = _lines_from(p, first)[0]
                break
            for _rc, ts, _values, quality in chunk.columns:
                report.out_of_range += int((quality == Quality.OUT_OF_RANGE).sum())
                if len(ts):
                    lo = int(ts.min()) if lo is None else min(lo, int(ts.min()))
                    hi = int(ts.max()) if hi is None else max(hi, int(ts.max()))
            report.rows += chunk.rows
            report.rows_stored += chunk.rows_stored
            report.missing_cells += chunk.missing_cells
            report.cells_quarantined += chunk.cells_bad
            report.rows_quarantined += chunk.rows_bad_time
            report.rows_malformed += chunk.rows_malformed
            report.quarantine_records += len(chunk.quarantine)
            room = REPORT_PROBLEMS - len(report.problems)
            report.problems.extend((r.location, r.reason) for r in chunk.quarantine[: max(room, 0)])
            if chunk.span is not None:
                report.last_line = chunk.span[1]
    except FileReadStopped as stop:
        report.stopped_at, report.stopped = stop.line, stop.reason
        excerpt = b""
        if word == "line":
            report.lines_not_read, excerpt = _lines_from(p, stop.line)
        else:
            with contextlib.suppress(Exception):
                import pyarrow.parquet as pq

                report.lines_not_read = pq.ParquetFile(p).metadata.num_rows - (stop.line - 1)
        rest = f"{report.lines_not_read} {word}(s)" if report.lines_not_read is not None else "the rest"
        reason = (
            f"the file could not be read from here on: {stop.reason}; {rest} from {word} {stop.line} "
            "to the end of the file are not stored"
        )
        record = QuarantineRecord("file", f"{p.name} {word} {stop.line}", excerpt, reason, spec.name)
        with contextlib.suppress(Exception):  # the report says it all even if the store fails too
            store.clear_file_quarantine(spec.name, p.name, stop.line, stop.line)
            store.write_quarantine([record])
            report.quarantine_records += 1
        report.problems.append((record.location, reason))
    else:
        if report.complete and report.last_line is not None:  # the file got shorter since a run
            with contextlib.suppress(Exception):
                store.clear_file_quarantine(spec.name, p.name, report.last_line + 1, None)
    if lo is not None and hi is not None:
        report.first = pd.Timestamp(lo, unit="us", tz="UTC")
        report.last = pd.Timestamp(hi, unit="us", tz="UTC")
    return report
