"""A description read into items: sentences of a paragraph, lines of a bulleted list, rows of CSV
tables (equipment and connections).

Rules: a text is CSV when the caller says so (``.csv``) or when its first line is a header with a
``name``/``kind`` or ``from``/``to`` column. Blank lines separate CSV tables, each with its own
header. A paragraph splits into sentences at ``.``, ``;``, ``!``, ``?`` followed by a space; a list
splits into its lines (the bullet or number in front is dropped).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from twinforge.build.result import BuildError

#: CSV header words for each column role
NAME_COLUMNS = ("name", "id", "equipment", "node", "element", "asset", "site", "step")
KIND_COLUMNS = ("kind", "type", "category", "role", "class")
FROM_COLUMNS = ("from", "source", "upstream", "origin")
TO_COLUMNS = ("to", "target", "feeds", "next", "downstream", "destination", "feeds_into", "goes_to")
TEXT_COLUMNS = ("description", "notes", "note", "details", "parameters", "comment", "comments", "remarks")

MAX_CHARS = 200_000


@dataclass
class Item:
    """One sentence, list line or CSV row of a description."""

    text: str
    line: int
    style: str  # "sentence" | "bullet" | "row"
    cells: dict[str, str] = field(default_factory=dict)  # CSV rows: column -> cell

    def cell(self, names: tuple[str, ...]) -> str | None:
        for key, value in self.cells.items():
            if _column(key) in names and value.strip():
                return value.strip()
        return None


@dataclass
class Description:
    items: list[Item]
    style: str  # "paragraph" | "list" | "csv"
    source: str = "<text>"


def _column(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6]|\d+[.)]|[a-z][.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=\S)")


def looks_like_csv(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in first and "\t" not in first:
        return False
    cols = {_column(c) for c in re.split(r"[,\t]", first)}
    return bool(cols & set(NAME_COLUMNS + FROM_COLUMNS)) and bool(
        cols & set(KIND_COLUMNS + TO_COLUMNS + TEXT_COLUMNS) or len(cols) > 2
    )


def read_description(text: str, fmt: str | None = None, source: str = "<text>") -> Description:
    """Items of a description. ``fmt``: ``"csv"``, ``"text"`` or None (decide from the text)."""
    if len(text) > MAX_CHARS:
        raise BuildError(f"{source}: the description is {len(text)} characters; at most {MAX_CHARS} are read")
    if "\x00" in text:
        raise BuildError(f"{source}: the description is binary data, not text")
    if not text.strip():
        raise BuildError(f"{source}: the description is empty: there is nothing to build a twin from")
    if fmt is None and sum(1 for line in text.splitlines() if line.strip().startswith("|")) >= 3:
        text = _markdown_tables(text)
        fmt = "csv"
    if fmt == "csv" or (fmt is None and looks_like_csv(text)):
        return Description(_csv_items(text, source), "csv", source)
    lines = text.splitlines()
    bullets = sum(1 for line in lines if _BULLET.match(line))
    items: list[Item] = []
    if bullets >= 2:
        for n, line in enumerate(lines, 1):
            body = _BULLET.sub("", line).strip()
            if body:
                items.extend(_sentences(body, n, "bullet"))
        return Description(items, "list", source)
    for n, line in enumerate(lines, 1):
        if line.strip():
            items.extend(_sentences(line.strip(), n, "sentence"))
    return Description(items, "paragraph", source)


def _markdown_tables(text: str) -> str:
    """Markdown pipe tables as CSV tables (separator rows dropped, other lines end a table)."""
    out: list[str] = []
    for line in text.splitlines():
        t = line.strip()
        if t.startswith("|"):
            cells = [c.strip() for c in t.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            buf = io.StringIO()
            csv.writer(buf).writerow(cells)
            out.append(buf.getvalue().rstrip("\r\n"))
        else:
            out.append("")
    return "\n".join(out)


def _sentences(text: str, line: int, style: str) -> list[Item]:
    return [Item(s.strip(), line, style) for s in _SENTENCE_END.split(text) if s.strip(" .;")]


def _csv_items(text: str, source: str) -> list[Item]:
    items: list[Item] = []
    block: list[tuple[int, str]] = []
    blocks: list[list[tuple[int, str]]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            block.append((n, line))
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    for blk in blocks:
        first = blk[0][1]
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        try:
            rows = list(csv.reader(io.StringIO("\n".join(line for _, line in blk)), delimiter=delimiter))
        except csv.Error as exc:
            raise BuildError(f"{source}:{blk[0][0]}: not readable as CSV ({exc})") from None
        header = [h.strip() for h in rows[0]]
        if not any(_column(h) in NAME_COLUMNS + FROM_COLUMNS for h in header) and (
            len(header) > 1 and any(_column(h) in KIND_COLUMNS + TO_COLUMNS for h in header[1:])
        ):
            header[0] = "name"  # "Station | Type | ...": the first column names the rows
        if not any(_column(h) in NAME_COLUMNS + FROM_COLUMNS for h in header):
            raise BuildError(
                f"{source}:{blk[0][0]}: a CSV table needs a header with a name column "
                f"({', '.join(NAME_COLUMNS[:3])}) or from/to columns; found {', '.join(header)}"
            )
        for (n, _), row in zip(blk[1:], rows[1:], strict=False):
            if len(row) > len(header):
                raise BuildError(
                    f"{source}:{n}: row has {len(row)} cells but the header has {len(header)} columns"
                )
            cells = {h: c.strip() for h, c in zip(header, row, strict=False)}
            text_of_row = ", ".join(f"{h}: {c}" for h, c in cells.items() if c)
            items.append(Item(text_of_row, n, "row", cells))
    return items
