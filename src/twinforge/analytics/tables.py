"""Reading wide signal tables (CSV with ``,`` ``;`` or tab separators, or Parquet) for detection."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from twinforge.analytics.base import AnalyticsError
from twinforge.analytics.signals import SignalMap, SignalRef, UnknownSignalError
from twinforge.spec import TwinSpec

TIME_COLUMNS = ("datetime", "timestamp", "time", "date", "ts")


def read_table(path: str | Path, sep: str | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, indexed by its time column when it has one
    (``datetime``, ``timestamp``, ``time``, ``date``, ``ts``). The CSV separator is detected from the
    header line unless ``sep`` is given."""
    path = Path(path)
    if not path.is_file():
        raise AnalyticsError(f"data file {str(path)!r} does not exist")
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        else:
            if sep is None:
                sep = _sniff_separator(path)
            frame = pd.read_csv(path, sep=sep)
    except AnalyticsError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise AnalyticsError(f"cannot read {str(path)!r}: {exc}") from None
    if frame.empty:
        raise AnalyticsError(f"{str(path)!r} has no rows")
    for col in frame.columns:
        if str(col).strip().lower() in TIME_COLUMNS:
            try:
                frame[col] = pd.to_datetime(frame[col])
            except (ValueError, TypeError) as exc:
                raise AnalyticsError(f"{str(path)!r}: time column {col!r} is not parseable: {exc}") from None
            frame = frame.set_index(col)
            break
    return frame


def _sniff_separator(path: Path) -> str:
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


@dataclass
class SignalTable:
    """A data table split into the twin's signals, an optional label column and ignored columns."""

    signals: pd.DataFrame
    refs: dict[str, SignalRef]
    labels: pd.Series | None


def signal_table(
    frame: pd.DataFrame,
    twin: TwinSpec,
    label: str | None = None,
    ignore: Sequence[str] = (),
    source: str = "data",
) -> SignalTable:
    """Check that every column is a signal of ``twin`` (or the label, or ignored); refuse unknown ones."""
    cols = [str(c) for c in frame.columns]
    frame = frame.copy()
    frame.columns = cols
    for name, what in [(label, "label column")] + [(c, "ignored column") for c in ignore]:
        if name is not None and name not in cols:
            raise AnalyticsError(f"{source}: {what} {name!r} not found; columns are {cols}")
    signal_cols = [c for c in cols if c != label and c not in set(ignore)]
    if not signal_cols:
        raise AnalyticsError(f"{source}: no signal columns left after the label and ignored columns")
    try:
        refs = SignalMap(twin).resolve(signal_cols)
    except UnknownSignalError as exc:  # say which file, and how to proceed
        raise UnknownSignalError(
            f"{source}: {exc}. Use --label/--ignore for columns that are not signals"
        ) from None
    signals = frame[signal_cols]
    non_numeric = [c for c in signal_cols if not pd.api.types.is_numeric_dtype(signals[c])]
    if non_numeric:
        raise AnalyticsError(f"{source}: signal column(s) {non_numeric} are not numeric")
    labels = frame[label].astype(float).fillna(0).astype(int) if label is not None else None
    return SignalTable(signals=signals.astype(float), refs=refs, labels=labels)
