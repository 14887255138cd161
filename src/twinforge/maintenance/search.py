"""Semantic search over work orders, with the date phrase of a query read as a filter.

``"pump seal leaks last winter"``: :func:`split_when` takes ``last winter`` out as a time window
and the rest (``pump seal leaks``) is embedded and compared (cosine) with each work order's
embedding. Work orders are embedded as their normalised text (abbreviations spelled out, see
:func:`twinforge.maintenance.vocabulary.normalize`) so ``L/H BUCKET CYL`` meets "left bucket
cylinder". Relative phrases (``last winter``, ``last 3 months``) count from ``today``; for
historical logs the default ``today`` is the date of the latest work order searched.

Phrases read: ``last/this/next`` + ``week|month|year|winter|spring|summer|autumn|fall``;
``last N days|weeks|months|years``; ``in|during`` + ``YEAR``, ``MONTH YEAR`` or ``SEASON YEAR``;
a bare ``YEAR`` or ``MONTH YEAR``; ``since|after|before`` + ``YEAR`` or ``MONTH YEAR``;
``yesterday``, ``today``. Seasons are meteorological (winter = December to February in the
northern hemisphere, June to August in the southern: pass ``hemisphere="south"``).

:class:`TfidfSearch` is the lexical baseline the benchmark compares against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from twinforge.maintenance.records import MaintenanceError
from twinforge.maintenance.vocabulary import normalize

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_SEASONS_NORTH = {"winter": 12, "spring": 3, "summer": 6, "autumn": 9, "fall": 9}
_SEASON = r"(winter|spring|summer|autumn|fall)"
_YEAR = r"((?:19|20)\d\d)"


@dataclass(frozen=True)
class When:
    """A time window read from a query: ``start`` inclusive, ``end`` exclusive (either may be None)."""

    start: datetime | None
    end: datetime | None
    phrase: str


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1)


def _season(name: str, year: int, hemisphere: str) -> tuple[datetime, datetime]:
    first = _SEASONS_NORTH[name] + (6 if hemisphere == "south" else 0)
    if first > 12:
        first -= 12
    # winter (north) of YEAR starts in December of YEAR-1 (Dec YEAR-1 .. Feb YEAR)
    start_year = year - 1 if first == 12 else year
    start = _month_start(start_year, first)
    return start, _month_start(start_year, first + 3)


def _last_season(name: str, today: datetime, hemisphere: str, offset: int) -> tuple[datetime, datetime]:
    """The most recent season ``name`` that has started before ``today`` (offset 0 = that one,
    -1 = the one before; 'this' = the current or most recent, 'last' = the one before a current one)."""
    for year in range(today.year + 1, today.year - 3, -1):
        start, end = _season(name, year, hemisphere)
        if start <= today:
            if offset == -1 and today < end:  # "last winter" while in winter: the previous one
                return _season(name, year - 1, hemisphere)
            return start, end
    raise MaintenanceError(f"cannot place season {name!r}")  # pragma: no cover - loop always returns


def split_when(query: str, today: datetime, *, hemisphere: str = "north") -> tuple[str, When | None]:
    """(query without its date phrase, the window it names) — None when it names none."""
    if hemisphere not in ("north", "south"):
        raise MaintenanceError(f"hemisphere must be north or south; found {hemisphere!r}")
    q = f" {query.strip()} "
    low = q.lower()
    rules: list[tuple[str, Any]] = [
        (rf"\b(in|during)?\s*(the\s+)?(last|this|past)\s+{_SEASON}\b", "rel_season"),
        (r"\b(in|during|over)?\s*(the\s+)?(last|past)\s+(\d+)\s+(day|week|month|year)s?\b", "last_n"),
        (r"\b(in|during)?\s*(the\s+)?(last|this|past)\s+(week|month|year)\b", "rel_unit"),
        (rf"\b(in|during)?\s*(the\s+)?{_SEASON}\s+(of\s+)?{_YEAR}\b", "season_year"),
        (rf"\b(since|after|from|before|until)\s+{_MONTH}\s+{_YEAR}\b", "bound_month"),
        (rf"\b(since|after|from|before|until)\s+{_YEAR}\b", "bound_year"),
        (rf"\b(in|during)?\s*{_MONTH}\s+{_YEAR}\b", "month_year"),
        (rf"\b(in|during)?\s*{_YEAR}\b", "year"),
        (r"\byesterday\b", "yesterday"),
        (r"\btoday\b", "today"),
    ]
    for pattern, kind in rules:
        m = re.search(pattern, low)
        if m is None:
            continue
        g = m.groups()
        start: datetime | None
        end: datetime | None
        day = datetime(today.year, today.month, today.day)
        if kind == "rel_season":
            start, end = _last_season(g[3], day, hemisphere, -1 if g[2] in ("last", "past") else 0)
        elif kind == "last_n":
            n, unit = int(g[3]), g[4]
            end = day + timedelta(days=1)
            if unit == "day":
                start = end - timedelta(days=n)
            elif unit == "week":
                start = end - timedelta(weeks=n)
            elif unit == "month":
                start = _month_start(day.year, day.month - n + 1) if n else day
            else:
                start = datetime(day.year - n, day.month, 1)
        elif kind == "rel_unit":
            which, unit = g[2], g[3]
            back = 1 if which in ("last", "past") else 0
            if unit == "week":
                monday = day - timedelta(days=day.weekday())
                start, end = (
                    monday - timedelta(weeks=back),
                    monday - timedelta(weeks=back) + timedelta(weeks=1),
                )
            elif unit == "month":
                start = _month_start(day.year, day.month - back)
                end = _month_start(day.year, day.month - back + 1)
            else:
                start, end = datetime(day.year - back, 1, 1), datetime(day.year - back + 1, 1, 1)
        elif kind == "season_year":
            start, end = _season(g[2], int(g[4]), hemisphere)
        elif kind == "bound_month":
            at = _month_start(int(g[2]), _MONTHS[g[1]])
            start, end = (None, at) if g[0] in ("before", "until") else (at, None)
        elif kind == "bound_year":
            at = datetime(int(g[1]), 1, 1)
            start, end = (None, at) if g[0] in ("before", "until") else (at, None)
            if g[0] == "after":
                start = datetime(int(g[1]) + 1, 1, 1)
        elif kind == "month_year":
            start = _month_start(int(g[2]), _MONTHS[g[1]])
            end = _month_start(int(g[2]), _MONTHS[g[1]] + 1)
        elif kind == "year":
            start, end = datetime(int(g[1]), 1, 1), datetime(int(g[1]) + 1, 1, 1)
        elif kind == "yesterday":
            start, end = day - timedelta(days=1), day
        else:
            start, end = day, day + timedelta(days=1)
        rest = (q[: m.start()] + " " + q[m.end() :]).strip()
        rest = re.sub(r"\s+", " ", rest)
        return rest, When(start, end, q[m.start() : m.end()].strip())
    return query.strip(), None


def search_text(text: str) -> str:
    """What is embedded for a work order: its normalised text."""
    return normalize(text)


@dataclass(frozen=True)
class SearchHit:
    id: int
    score: float
    text: str
    date: datetime | None
    asset: str | None


class TfidfSearch:
    """Lexical baseline: TF-IDF over word unigrams and bigrams of the raw text, cosine ranking."""

    def __init__(self, texts: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(texts)

    def scores(self, query: str) -> np.ndarray:
        q = self.vectorizer.transform([query])
        return np.asarray((self.matrix @ q.T).todense()).ravel()


def rank(vectors: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
    """Cosine scores of unit ``vectors`` against one unit query vector."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.float32)
    return vectors @ query_vector.reshape(-1)
