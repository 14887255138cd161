"""Plain types shared by the store, the ingest paths and state sync.

Conventions:

- Timestamps are UTC. Inside the data layer they travel as integer **microseconds since the Unix
  epoch**; the store keeps them in DuckDB ``TIMESTAMP`` columns (UTC by convention) and returns
  them to Python as timezone-aware ``pandas`` timestamps in UTC.
- A value is a float in the unit of its signal in the twin spec (``Signal.unit``, else the unit of
  the state it observes). Ingest converts on the way in; the store never converts.
- Every sample carries a :class:`Quality`; larger codes are worse, so ``max()`` of a bucket is its
  worst quality.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import pandas as pd

from twinforge.data.errors import DataError
from twinforge.spec import units

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Quality(IntEnum):
    """Quality of one sample (OPC UA style, worst last)."""

    GOOD = 0
    UNCERTAIN = 1  # the source said so (e.g. a gateway flag); still used by state sync
    BAD = 2  # the source flagged the reading as bad
    OUT_OF_RANGE = 3  # outside the instrument's measuring range declared in the twin spec

    @property
    def usable(self) -> bool:
        """Whether state sync and aggregates use samples of this quality by default."""
        return self <= Quality.UNCERTAIN

    @classmethod
    def parse(cls, text: str | int) -> Quality:
        if isinstance(text, bool):
            raise DataError(f"unknown quality {text!r}; expected one of {', '.join(_QUALITY_NAMES)}")
        if isinstance(text, int):
            try:
                return cls(text)
            except ValueError:
                raise DataError(
                    f"unknown quality code {text}; expected 0..{max(cls)} or one of {', '.join(_QUALITY_NAMES)}"
                ) from None
        key = str(text).strip().lower()
        if key in _QUALITY_NAMES:
            return _QUALITY_NAMES[key]
        raise DataError(f"unknown quality {text!r}; expected one of {', '.join(_QUALITY_NAMES)}")


_QUALITY_NAMES = {
    "good": Quality.GOOD,
    "uncertain": Quality.UNCERTAIN,
    "bad": Quality.BAD,
    "out_of_range": Quality.OUT_OF_RANGE,
}

#: Highest quality code that aggregates and state sync use by default.
USABLE_MAX = int(Quality.UNCERTAIN)


@dataclass(frozen=True)
class QuarantineRecord:
    """Input that could not be stored as a sample, kept with the reason so that nothing is lost.

    ``source`` is where it came from (``mqtt``, ``file``, ``api``); ``location`` says where in that
    source (the MQTT topic, or ``file.csv row 17``); ``payload`` is the raw bytes as received.
    """

    source: str
    location: str
    payload: bytes
    reason: str
    twin: str | None = None
    received_us: int = field(default_factory=lambda: now_us())


@dataclass(frozen=True)
class LatestSample:
    twin: str
    node: str
    signal: str
    timestamp: pd.Timestamp
    value: float
    quality: Quality
    unit: str | None


def now_us() -> int:
    """Wall-clock time now, in microseconds since the epoch (UTC)."""
    return int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)


def to_us(value: object) -> int:
    """One instant (datetime, pandas Timestamp, ISO-8601 text or epoch seconds) as epoch microseconds.

    Naive datetimes and texts without an offset are taken as UTC.
    """
    if isinstance(value, bool):
        raise DataError(f"cannot read {value!r} as a timestamp")
    if isinstance(value, int | float | np.integer | np.floating):
        if not math.isfinite(float(value)):
            raise DataError(f"timestamp must be finite, found {value!r}")
        return round(float(value) * 1_000_000)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value.strip())
        except (ValueError, TypeError) as exc:
            raise DataError(f"cannot read {value!r} as a timestamp (expected ISO 8601)") from exc
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            raise DataError("timestamp is missing (NaT)")
        if value.tzinfo is None:
            value = value.tz_localize("UTC")
        return int(value.tz_convert("UTC").value) // 1000  # .value is always in ns
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    raise DataError(f"cannot read {value!r} as a timestamp")


def from_us(us: int) -> pd.Timestamp:
    return pd.Timestamp(us, unit="us", tz="UTC")


def duration_us(value: object) -> int:
    """A duration (timedelta, seconds, or text such as ``'1 min'``, ``'10s'``, ``'7 days'``) in µs."""
    if isinstance(value, dt.timedelta):
        us = round(value.total_seconds() * 1_000_000)
    elif isinstance(value, pd.Timedelta):
        us = int(value.value) // 1000
    elif isinstance(value, int | float) and not isinstance(value, bool):
        us = round(float(value) * 1_000_000)
    elif isinstance(value, str):
        text = value.strip()
        try:
            magnitude, unit = units.parse_quantity(text)
            us = round(units.convert(magnitude, unit or "s", "s") * 1_000_000)
        except Exception:
            try:
                us = int(pd.Timedelta(text).value) // 1000
            except (ValueError, TypeError) as exc:
                raise DataError(f"cannot read {value!r} as a duration (e.g. '10 s', '1 min', '7 d')") from exc
    else:
        raise DataError(f"cannot read {value!r} as a duration")
    if us <= 0:
        raise DataError(f"duration must be positive, found {value!r}")
    return us


class UnitConverter:
    """Vectorised unit conversion built on :func:`twinforge.spec.units.convert`.

    Every pint conversion between linear or offset units is affine (``y = a·x + b``), so the two
    coefficients are taken from ``units.convert`` once and applied to whole arrays; anything that is
    not affine (e.g. logarithmic units) falls back to ``units.convert`` per element.
    """

    def __init__(self, from_unit: str | None, to_unit: str | None) -> None:
        self.from_unit = from_unit or ""
        self.to_unit = to_unit or ""
        self.identity = self.from_unit == self.to_unit
        if self.identity:
            self.scale, self.offset, self.affine = 1.0, 0.0, True
            return
        b = units.convert(0.0, self.from_unit, self.to_unit)  # raises UnitError when incompatible
        a = units.convert(1.0, self.from_unit, self.to_unit) - b
        probe = units.convert(7.5, self.from_unit, self.to_unit)
        self.scale, self.offset = a, b
        self.affine = math.isclose(probe, a * 7.5 + b, rel_tol=1e-9, abs_tol=1e-12)

    def __call__(self, value: float) -> float:
        if self.identity:
            return value
        if self.affine:
            return value * self.scale + self.offset
        return units.convert(value, self.from_unit, self.to_unit)

    def array(self, values: np.ndarray) -> np.ndarray:
        if self.identity:
            return values
        if self.affine:
            return values * self.scale + self.offset
        return np.array([units.convert(float(v), self.from_unit, self.to_unit) for v in values])
