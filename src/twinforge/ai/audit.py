"""Governance records in the local DuckDB store: the audit log and the response cache.

``ai_audit`` gets one row per LLM or embedding call (cache hits and failed calls included, marked
as such): time, kind, provider, model, prompt and response (or only their SHA-256 when
``[audit] store_text = "hash"``), schema, parameters, tokens, latency, outcome and error.

Privacy: with ``[audit] redact = true`` (the default) prompt, response and error are redacted
(:class:`twinforge.ai.redaction.Redactor`) before they are stored — the raw text is never written,
and the hashes are of the redacted text; ``redacted`` is then true for rows where something was
hidden. With ``[audit] retention_days = N`` (30 by default, 0 = keep forever) rows older than N
days — audit rows and cached completions — are deleted when the log is first opened by a process
and then at most once a minute while it writes.

``ai_cache`` maps a key — SHA-256 of (provider, model, messages, schema, parameters) — to the
completion once produced, so a repeated deterministic call costs nothing and returns the same.

The database file is opened per operation (DuckDB keeps one instance per file inside a
process, and another process may hold the file between our writes). A file locked by another
process is retried for a few seconds; then :class:`AuditError` is raised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinforge.ai.errors import AuditError
from twinforge.ai.types import Completion, Usage

if TYPE_CHECKING:
    from twinforge.ai.redaction import Redaction, Redactor

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS ai_audit (
    id VARCHAR PRIMARY KEY,
    ts TIMESTAMPTZ NOT NULL,
    kind VARCHAR NOT NULL,            -- chat | stream | structured | embed
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    prompt VARCHAR,                   -- NULL when store_text = 'hash'
    prompt_sha256 VARCHAR NOT NULL,
    response VARCHAR,
    response_sha256 VARCHAR,
    json_schema VARCHAR,
    params VARCHAR,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_s DOUBLE,
    outcome VARCHAR NOT NULL,         -- ok | error | cache_hit | invalid (structured attempt rejected)
    error VARCHAR,
    attempt INTEGER,                  -- structured calls: 1 = first try, 2.. = repairs
    call_id VARCHAR,                  -- groups the attempts of one structured call
    redacted BOOLEAN
);
CREATE TABLE IF NOT EXISTS ai_cache (
    key VARCHAR PRIMARY KEY,
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    completion VARCHAR NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0
);
"""

_LOCK = threading.Lock()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def connect(path: Path, *, wait_s: float = 5.0) -> Iterator[Any]:
    """A DuckDB connection to the store at ``path`` with the AI tables created."""
    import duckdb

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditError(f"cannot create the store folder {path.parent}: {exc.strerror}") from None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.IOException as exc:  # another process holds the file
            if time.monotonic() > deadline:
                raise AuditError(f"cannot open the store {path}: {exc}") from None
            time.sleep(0.05)
    try:
        con.execute(_SCHEMA_SQL)
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    id: str
    ts: dt.datetime
    kind: str
    provider: str
    model: str
    prompt: str | None
    prompt_sha256: str
    response: str | None
    response_sha256: str | None
    json_schema: str | None
    params: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float | None
    outcome: str
    error: str | None
    attempt: int | None
    call_id: str | None
    redacted: bool | None


#: seconds between two purges of expired rows by one writer
PURGE_INTERVAL_S = 60.0


class AuditLog:
    """Append-only log of AI calls in the DuckDB store (rows expire after ``retention_days``).

    ``redact`` (default on) stores prompts, answers and errors with personal data replaced by
    placeholders, using ``redactor`` (default: :class:`~twinforge.ai.redaction.Redactor` with
    every recogniser on). ``retention_days`` None or 0 keeps rows forever; a log built only to
    read (``AuditLog(path).entries()``) therefore deletes nothing.
    """

    def __init__(
        self,
        path: Path,
        *,
        store_text: str = "full",
        enabled: bool = True,
        redact: bool = True,
        redactor: Redactor | None = None,
        retention_days: float | None = None,
    ):
        self.path = Path(path)
        self.store_text = store_text
        self.enabled = enabled
        self.redact = redact
        self._redactor = redactor
        self.retention_days = retention_days or None
        self._purged_at: float | None = None

    @classmethod
    def from_settings(cls, settings: Any, *, redactor: Redactor | None = None) -> AuditLog:
        """The log configured by ``settings`` (``[store] path``, ``[audit]``; the redactor follows
        ``[redaction]``'s recognisers, roster and patterns)."""
        from twinforge.ai.redaction import Redactor

        audit = settings.audit
        return cls(
            settings.store.path,
            store_text=audit.store_text,
            enabled=audit.enabled,
            redact=audit.redact,
            redactor=redactor or (Redactor.from_settings(settings.redaction) if audit.redact else None),
            retention_days=audit.retention_days,
        )

    @property
    def redactor(self) -> Redactor:
        if self._redactor is None:
            from twinforge.ai.redaction import Redactor

            self._redactor = Redactor()
        return self._redactor

    # -- privacy ------------------------------------------------------------------------------------

    def _redacted(self, text: str | None, redaction: Redaction) -> str | None:
        """``text`` with personal data replaced; JSON (the messages of a call, a list of texts, a
        structured answer) is redacted string by string, so that escapes do not hide a name."""
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return self.redactor.redact(text, redaction).text
        if not isinstance(data, list | dict):
            return self.redactor.redact(text, redaction).text

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                return self.redactor.redact(value, redaction).text
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            return value

        return json.dumps(walk(data), ensure_ascii=False)

    def purge(self, con: Any = None) -> int:
        """Delete audit rows and cached completions older than ``retention_days``; returns how many."""
        if not self.retention_days:
            return 0
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.retention_days)
        if con is None:
            if not self.path.exists():
                return 0
            with _LOCK, connect(self.path) as own:
                return self.purge(own)
        n = int(con.execute("SELECT count(*) FROM ai_audit WHERE ts < ?", [cutoff]).fetchone()[0])
        n += int(con.execute("SELECT count(*) FROM ai_cache WHERE created < ?", [cutoff]).fetchone()[0])
        if n:
            con.execute("DELETE FROM ai_audit WHERE ts < ?", [cutoff])
            con.execute("DELETE FROM ai_cache WHERE created < ?", [cutoff])
        self._purged_at = time.monotonic()
        return n

    def _purge_due(self) -> bool:
        return bool(self.retention_days) and (
            self._purged_at is None or time.monotonic() - self._purged_at >= PURGE_INTERVAL_S
        )

    @contextlib.contextmanager
    def _open(self) -> Iterator[Any]:
        """A connection to the store, expired rows purged first when due (lock held by the caller)."""
        with connect(self.path) as con:
            if self._purge_due():
                self.purge(con)
            yield con

    def record(
        self,
        *,
        kind: str,
        provider: str,
        model: str,
        prompt: str,
        response: str | None,
        outcome: str,
        usage: Usage | None = None,
        latency_s: float | None = None,
        json_schema: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        error: str | None = None,
        attempt: int | None = None,
        call_id: str | None = None,
        redacted: bool = False,
    ) -> str:
        """Write one row; returns its id. Raises :class:`AuditError` when it cannot be written.

        With ``redact`` on, ``prompt``, ``response`` and ``error`` are stored redacted (one
        placeholder per value across the three) and ``redacted`` is set when anything was hidden.
        """
        entry_id = uuid.uuid4().hex
        if not self.enabled:
            return entry_id
        if self.redact:
            from twinforge.ai.redaction import Redaction

            hidden = Redaction()
            prompt = self._redacted(prompt, hidden) or ""
            response = self._redacted(response, hidden)
            error = self.redactor.redact(error, hidden).text if error else error
            redacted = redacted or len(hidden) > 0
        keep = self.store_text == "full"
        row = (
            entry_id,
            dt.datetime.now(dt.UTC),
            kind,
            provider,
            model,
            prompt if keep else None,
            sha256(prompt),
            response if keep else None,
            sha256(response) if response is not None else None,
            json.dumps(json_schema, sort_keys=True) if json_schema is not None else None,
            json.dumps(params, sort_keys=True) if params is not None else None,
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
            latency_s,
            outcome,
            error,
            attempt,
            call_id,
            redacted,
        )
        with _LOCK:
            try:
                with self._open() as con:
                    con.execute(f"INSERT INTO ai_audit VALUES ({', '.join('?' * len(row))})", row)
            except AuditError:
                raise
            except Exception as exc:
                raise AuditError(f"cannot write the audit log at {self.path}: {exc}") from None
        return entry_id

    def entries(
        self, *, limit: int = 20, kind: str | None = None, outcome: str | None = None
    ) -> list[AuditEntry]:
        """Most recent entries first."""
        if not self.path.exists():
            return []
        where, args = [], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if outcome:
            where.append("outcome = ?")
            args.append(outcome)
        sql = "SELECT * FROM ai_audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC LIMIT ?"
        with _LOCK, self._open() as con:
            rows = con.execute(sql, [*args, limit]).fetchall()
        return [AuditEntry(*row) for row in rows]

    def count(self, **where: str) -> int:
        if not self.path.exists():
            return 0
        clauses = " AND ".join(f"{k} = ?" for k in where)
        sql = "SELECT count(*) FROM ai_audit" + (f" WHERE {clauses}" if clauses else "")
        with _LOCK, self._open() as con:
            return int(con.execute(sql, list(where.values())).fetchone()[0])

    def totals(self) -> dict[str, Any]:
        """Calls, tokens actually spent (cache hits excluded) and latency, per provider and model."""
        if not self.path.exists():
            return {}
        with _LOCK, self._open() as con:
            rows = con.execute(
                """SELECT provider, model, count(*) AS calls,
                          sum(CASE WHEN outcome = 'cache_hit' THEN 1 ELSE 0 END) AS cache_hits,
                          sum(CASE WHEN outcome = 'error' THEN 1 ELSE 0 END) AS errors,
                          sum(CASE WHEN outcome <> 'cache_hit' THEN prompt_tokens ELSE 0 END) AS prompt_tokens,
                          sum(CASE WHEN outcome <> 'cache_hit' THEN completion_tokens ELSE 0 END)
                              AS completion_tokens,
                          sum(CASE WHEN outcome <> 'cache_hit' THEN latency_s ELSE 0 END) AS latency_s
                   FROM ai_audit GROUP BY provider, model ORDER BY calls DESC"""
            ).fetchall()
        keys = [
            "provider",
            "model",
            "calls",
            "cache_hits",
            "errors",
            "prompt_tokens",
            "completion_tokens",
            "latency_s",
        ]
        return {f"{r[0]}/{r[1]}": dict(zip(keys, r, strict=True)) for r in rows}


def cache_key(
    provider: str, model: str, messages: list[dict[str, str]], schema: Any, params: dict[str, Any]
) -> str:
    payload = {"provider": provider, "model": model, "messages": messages, "schema": schema, "params": params}
    return sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")))


class ResponseCache:
    """Completions keyed on (provider, model, messages, schema, parameters), in the DuckDB store."""

    def __init__(self, path: Path, *, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def get(self, key: str) -> Completion | None:
        if not self.enabled or not self.path.exists():
            return None
        with _LOCK, connect(self.path) as con:
            row = con.execute("SELECT completion FROM ai_cache WHERE key = ?", [key]).fetchone()
            if row is None:
                return None
            con.execute("UPDATE ai_cache SET hits = hits + 1 WHERE key = ?", [key])
        data = json.loads(row[0])
        return Completion(
            text=data["text"],
            provider=data["provider"],
            model=data["model"],
            usage=Usage(**data["usage"]),
            latency_s=data["latency_s"],
            finish_reason=data.get("finish_reason"),
            cached=True,
        )

    def put(self, key: str, completion: Completion) -> None:
        if not self.enabled:
            return
        data = {
            "text": completion.text,
            "provider": completion.provider,
            "model": completion.model,
            "usage": {
                "prompt_tokens": completion.usage.prompt_tokens,
                "completion_tokens": completion.usage.completion_tokens,
            },
            "latency_s": completion.latency_s,
            "finish_reason": completion.finish_reason,
        }
        with _LOCK, connect(self.path) as con:
            con.execute(
                "INSERT OR REPLACE INTO ai_cache VALUES (?, ?, ?, ?, ?, 0)",
                [key, completion.provider, completion.model, json.dumps(data), dt.datetime.now(dt.UTC)],
            )

    def clear(self) -> int:
        if not self.path.exists():
            return 0
        with _LOCK, connect(self.path) as con:
            n = int(con.execute("SELECT count(*) FROM ai_cache").fetchone()[0])
            con.execute("DELETE FROM ai_cache")
        return n
