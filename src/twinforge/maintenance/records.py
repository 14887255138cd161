"""Work orders read from CSV files or plain text lines.

Rules, decided once:

- A record is kept whatever is wrong with it; what is wrong goes in ``flags``:
  ``bad_date`` (a date that cannot be read; the text is kept in ``date_text``), ``no_date``,
  ``no_asset``, ``unknown_asset`` (set when linking to a twin finds no node), ``bad_cost``,
  ``no_text``, ``bad_row`` (a CSV row with more or fewer fields than the header).
- Wholly blank lines are not records. An empty file (no header, no lines) is an error.
- Dates: ISO ``2008-09-25`` (with or without time), ``25/09/2008`` (day first), ``25.09.2008``,
  ``2008/09/25``, ``25-Sep-2008`` and ``Sep 25 2008`` are read; anything else is ``bad_date``.
- CSV columns are found by name (case-insensitive): date ``date, bscstartdate, start, timestamp,
  reported``; asset ``asset, equipment, unit, machine, node``; text ``text, originalshorttext,
  shorttext, description, work order, problem, comment``; cost ``cost, amount``.
- Plain text lines: ``DATE | ASSET | TEXT | COST`` (``|`` or tab separated, cost optional), or
  ``DATE ASSET: TEXT``, or just ``TEXT``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from twinforge.errors import TwinforgeError


class MaintenanceError(TwinforgeError):
    """A maintenance-log input or query that cannot be used; the message says what and where."""


@dataclass
class WorkOrder:
    """One maintenance-log line as read, plus what was made of it."""

    text: str
    date: datetime | None = None
    asset: str | None = None
    cost: float | None = None
    source: str = ""
    line: int = 0
    date_text: str = ""
    flags: list[str] = field(default_factory=list)
    # filled by linking, extraction and classification
    node: str | None = None
    link_confidence: float = 0.0
    link_how: str = ""
    part: str = ""
    problem: str = ""
    action: str = ""
    fmc: str = "UNK"
    fmc_how: str = ""

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d %Y",
    "%d/%m/%y",
)


def parse_date(text: str) -> datetime | None:
    """The date in ``text`` (one of the accepted formats), or None."""
    value = text.strip().rstrip("Z")
    if not value:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def parse_cost(text: str) -> tuple[float | None, bool]:
    """(cost, ok): empty is (None, True); ``$1,234.50`` is 1234.5; garbage is (None, False)."""
    value = text.strip().replace(",", "").lstrip("$€£")
    if not value:
        return None, True
    try:
        cost = float(value)
    except ValueError:
        return None, False
    return (cost, True) if cost == cost and abs(cost) != float("inf") else (None, False)


_COLUMNS = {
    "date": ("date", "bscstartdate", "startdate", "start", "timestamp", "reported", "time", "day"),
    "asset": ("asset", "equipment", "unit", "machine", "node", "assetid", "equipmentid"),
    "text": (
        "text",
        "originalshorttext",
        "shorttext",
        "description",
        "workorder",
        "problem",
        "comment",
        "notes",
        "rawtext",
    ),
    "cost": ("cost", "amount", "price"),
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _columns(header: list[str], where: str) -> dict[str, int]:
    keys = [_key(h) for h in header]
    found: dict[str, int] = {}
    for role, names in _COLUMNS.items():
        for name in names:
            if name in keys and keys.index(name) not in found.values():
                found[role] = keys.index(name)
                break
    if "text" not in found:
        raise MaintenanceError(
            f"{where}: no text column in the header {header!r}; expected one named like "
            f"{', '.join(_COLUMNS['text'][:5])}"
        )
    return found


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MaintenanceError(f"work-order file not found: {path}") from None
    except IsADirectoryError:
        raise MaintenanceError(f"{path} is a folder; name a CSV or text file of work orders") from None
    except OSError as exc:
        raise MaintenanceError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _fill(order: WorkOrder, date_text: str, asset: str, cost_text: str) -> WorkOrder:
    order.date_text = date_text.strip()
    if not order.date_text:
        order.flag("no_date")
    else:
        order.date = parse_date(order.date_text)
        if order.date is None:
            order.flag("bad_date")
    order.asset = asset.strip() or None
    if order.asset is None:
        order.flag("no_asset")
    order.cost, ok = parse_cost(cost_text)
    if not ok:
        order.flag("bad_cost")
    if not order.text.strip():
        order.flag("no_text")
    return order


def read_csv_text(content: str, source: str = "<text>") -> list[WorkOrder]:
    """Work orders from CSV content (a header row naming the columns)."""
    rows = list(csv.reader(io.StringIO(content)))
    while rows and not any(c.strip() for c in rows[0]):
        rows.pop(0)
    if not rows:
        raise MaintenanceError(f"{source} is empty: expected a header row and work orders")
    header = rows[0]
    cols = _columns(header, source)
    orders = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue

        def get(role: str, row: list[str] = row) -> str:
            i = cols.get(role)
            return row[i] if i is not None and i < len(row) else ""

        order = WorkOrder(text=get("text").strip(), source=source, line=number)
        _fill(order, get("date"), get("asset"), get("cost"))
        if len(row) != len(header):
            order.flag("bad_row")
        orders.append(order)
    return orders


_LINE = re.compile(
    r"^(?P<date>\S+(?:\s\d{1,2}:\d{2}(?::\d{2})?)?)\s+(?:(?P<asset>[^:\s][^:]{0,40}):\s*)?(?P<text>.*)$"
)


def read_lines_text(content: str, source: str = "<text>") -> list[WorkOrder]:
    """Work orders from plain lines: ``DATE | ASSET | TEXT | COST``, ``DATE ASSET: TEXT`` or ``TEXT``."""
    if not content.strip():
        raise MaintenanceError(f"{source} is empty: expected one work order per line")
    orders = []
    for number, raw in enumerate(content.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        sep = "|" if "|" in line else "\t" if "\t" in line else None
        if sep:
            parts = [p.strip() for p in line.split(sep)]
            parts += [""] * (4 - len(parts))
            order = WorkOrder(text=parts[2], source=source, line=number)
            _fill(order, parts[0], parts[1], parts[3] if len(parts) == 4 else "")
            if len(parts) > 4:
                order.flag("bad_row")
            orders.append(order)
            continue
        m = _LINE.match(line)
        if m and parse_date(m["date"]) is not None:
            order = WorkOrder(text=m["text"].strip(), source=source, line=number)
            _fill(order, m["date"], m["asset"] or "", "")
        else:
            order = WorkOrder(text=line, source=source, line=number)
            _fill(order, "", "", "")
        orders.append(order)
    return orders


def read_work_orders(path: str | Path) -> list[WorkOrder]:
    """Work orders from a file: ``.csv`` (or any file whose first line has a comma-separated
    header naming a text column) as CSV, anything else as plain lines."""
    path = Path(path)
    content = _read_text(path)
    if not content.strip():
        raise MaintenanceError(f"{path} is empty: expected work orders (CSV with a header, or lines)")
    first = content.strip().splitlines()[0]
    if path.suffix.lower() in (".csv", ".tsv") or _looks_like_header(first):
        if path.suffix.lower() == ".tsv":
            content = content.replace("\t", ",")
        return read_csv_text(content, str(path))
    return read_lines_text(content, str(path))


def _looks_like_header(line: str) -> bool:
    cells = [_key(c) for c in next(csv.reader([line]), [])]
    return len(cells) > 1 and any(c in _COLUMNS["text"] for c in cells)
