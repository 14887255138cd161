"""Audit log and response cache, with a recording provider double and with the real local model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from twinforge.ai import (
    LLM,
    AuditLog,
    Completion,
    GenerationParams,
    Message,
    ProviderError,
    ResponseCache,
    Usage,
)
from twinforge.ai.audit import sha256
from twinforge.ai.providers.base import LLMProvider, StreamEnd
from twinforge.config import load_settings


class ScriptedProvider(LLMProvider):
    """Answers from a list; fails when the answer is an exception. Counts calls."""

    name = "scripted"
    is_local = True

    def __init__(self, answers: list[str | Exception]):
        self.answers = answers
        self.calls: list[list[Message]] = []
        self.params: list[GenerationParams] = []

    @property
    def model(self) -> str:
        return "scripted-1"

    def complete(self, messages, params, json_schema=None) -> Completion:
        self.calls.append(messages)
        self.params.append(params)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Completion(answer, self.name, self.model, Usage(10, 5), 0.01, "stop")

    def stream(self, messages, params) -> Iterator[str | StreamEnd]:
        yield from ["a", "b"]
        yield StreamEnd(Usage(3, 2), "stop")


def make(tmp_path: Path, answers: list, **audit: object) -> LLM:
    settings = load_settings(None, store={"path": tmp_path / "store.duckdb"}, audit=audit)
    return LLM.from_settings(settings, provider=ScriptedProvider(answers))


def test_every_call_is_audited(tmp_path: Path, isolated: Path) -> None:
    llm = make(tmp_path, ["one", "two", ProviderError("boom", provider="scripted"), '{"x": 1}'])
    llm.chat("first", temperature=0.5)
    llm.chat("second", temperature=0.5)
    with pytest.raises(ProviderError):
        llm.chat("third", temperature=0.5)
    llm.generate_structured("fourth", {"type": "object", "properties": {"x": {"type": "integer"}}})
    "".join(llm.stream("fifth"))
    log = llm.audit
    assert log.count() == 5
    assert (
        log.count(outcome="error") == 1
        and log.count(kind="structured") == 1
        and log.count(kind="stream") == 1
    )
    newest = log.entries(limit=5)
    assert newest[0].kind == "stream" and newest[0].completion_tokens == 2
    err = next(e for e in newest if e.outcome == "error")
    assert err.error == "boom" and err.response is None
    structured = next(e for e in newest if e.kind == "structured")
    assert structured.json_schema is not None and structured.attempt == 1 and structured.call_id
    chat = newest[-1]
    assert '"first"' in chat.prompt and chat.response == "one" and chat.prompt_sha256 == sha256(chat.prompt)
    assert (chat.prompt_tokens, chat.completion_tokens) == (10, 5) and chat.latency_s == pytest.approx(0.01)
    totals = log.totals()["scripted/scripted-1"]
    assert totals["calls"] == 5 and totals["errors"] == 1


def test_hash_mode_keeps_no_text(tmp_path: Path, isolated: Path) -> None:
    llm = make(tmp_path, ["secret answer"], store_text="hash")
    llm.chat("secret prompt")
    [row] = llm.audit.entries()
    assert row.prompt is None and row.response is None
    assert row.response_sha256 == sha256("secret answer") and len(row.prompt_sha256) == 64


def test_cache_hits_are_served_and_audited(tmp_path: Path, isolated: Path) -> None:
    llm = make(tmp_path, ["fresh", "other"])
    first = llm.chat("same prompt")
    second = llm.chat("same prompt")
    assert (first.text, second.text) == ("fresh", "fresh") and second.cached and not first.cached
    assert len(llm.provider.calls) == 1
    llm.chat("same prompt", max_tokens=7)  # other parameters: another key
    assert len(llm.provider.calls) == 2
    assert llm.audit.count(outcome="cache_hit") == 1 and llm.audit.count(outcome="ok") == 2
    assert llm.audit.totals()["scripted/scripted-1"]["prompt_tokens"] == 20  # hits spend nothing
    assert ResponseCache(tmp_path / "store.duckdb").clear() == 2


def test_sampling_calls_are_not_cached_unless_asked(tmp_path: Path, isolated: Path) -> None:
    llm = make(tmp_path, ["a", "b", "c", "d"])
    assert [llm.chat("p", temperature=0.8).text for _ in range(2)] == ["a", "b"]
    assert [llm.chat("q", temperature=0.8, cache=True).text for _ in range(2)] == ["c", "c"]
    assert llm.chat("r", cache=False).text == "d"


def test_audit_disabled_writes_nothing(tmp_path: Path, isolated: Path) -> None:
    llm = make(tmp_path, ["x"], enabled=False)
    llm.chat("p", cache=False)
    assert AuditLog(tmp_path / "store.duckdb").count() == 0


@pytest.mark.slow
def test_real_local_model_calls_are_audited(tmp_path: Path, isolated: Path) -> None:
    settings = load_settings(None, store={"path": tmp_path / "store.duckdb"})
    llm = LLM.from_settings(settings)
    c = llm.chat("Name a pump part.", max_tokens=12)
    assert c.usage.completion_tokens > 0 and c.text
    stream = llm.stream("Name a valve type.", max_tokens=8)
    text = "".join(stream)
    assert text == stream.completion.text and stream.completion.usage.completion_tokens > 0
    value, _ = llm.generate_structured("P-101 is running.", {"enum": ["running", "stopped"]}, max_tokens=8)
    assert value in ("running", "stopped")
    assert llm.audit.count() == 3
    assert {e.kind for e in llm.audit.entries()} == {"chat", "stream", "structured"}
    assert all(e.provider == "local" and e.latency_s > 0 for e in llm.audit.entries())


def test_structured_calls_are_deterministic_whatever_the_chat_temperature(
    tmp_path: Path, isolated: Path
) -> None:
    settings = load_settings(
        None, store={"path": tmp_path / "s.duckdb"}, llm={"temperature": 0.7, "seed": 42}
    )
    provider = ScriptedProvider(["free", '{"x": 1}', '{"x": 2}'])
    llm = LLM.from_settings(settings, provider=provider)
    llm.chat("p")
    llm.generate_structured("q", {"type": "object"})
    llm.generate_structured("r", {"type": "object"}, temperature=0.3)
    assert [(p.temperature, p.seed) for p in provider.params] == [(0.7, 42), (0.0, 42), (0.3, 42)]
    assert GenerationParams().temperature == 0.0 and GenerationParams().seed == 0


@pytest.mark.slow
def test_a_stream_stopped_early_is_audited_and_releases_the_model(tmp_path: Path, isolated: Path) -> None:
    settings = load_settings(None, store={"path": tmp_path / "store.duckdb"})
    llm = LLM.from_settings(settings)
    stream = llm.stream("Write a long essay about centrifugal pumps.", max_tokens=200)
    for i, _ in enumerate(stream):
        if i == 4:
            break
    assert stream.completion is not None and stream.completion.finish_reason == "interrupted"
    assert stream.completion.usage.completion_tokens == 5
    [row] = llm.audit.entries(kind="stream")
    assert row.outcome == "ok" and row.completion_tokens == 5
    # the model is free again, from another thread too
    import threading

    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(llm.chat("Hi", max_tokens=3, cache=False).text))
    worker.start()
    worker.join(timeout=60)
    assert result and not worker.is_alive()


# -- privacy: redacted audit text, retention; failed calls -----------------------------------------

PII_PROMPT = (
    "Ask Tom Fletcher (tom.fletcher@acme.com, +44 20 7946 0958) why Pump P-101 tripped at 120 bottles/min."
)
PII_ANSWER = "Tom Fletcher says the seal of Pump P-101 leaked; call +44 20 7946 0958."
RAW = ("Tom Fletcher", "tom.fletcher@acme.com", "+44 20 7946 0958")


def stored_text(path: Path) -> str:
    """Every value of every row of the store, as one string."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        rows = con.execute("SELECT * FROM ai_audit").fetchall()
    finally:
        con.close()
    return "\n".join(str(v) for row in rows for v in row)


def test_the_audit_log_stores_redacted_text_by_default(tmp_path: Path, isolated: Path) -> None:
    llm = make(tmp_path, [PII_ANSWER])  # a local provider: nothing is redacted on the way to it
    assert not llm.redacts
    answer = llm.chat(PII_PROMPT)
    assert answer.text == PII_ANSWER  # the caller gets the real answer
    [row] = llm.audit.entries()
    for raw in RAW:
        assert raw not in stored_text(tmp_path / "store.duckdb"), raw
    assert "<PERSON_1>" in row.prompt and "<EMAIL_1>" in row.prompt and "<PHONE_1>" in row.prompt
    # one placeholder per value across prompt and answer, technical text untouched
    assert row.response == "<PERSON_1> says the seal of Pump P-101 leaked; call <PHONE_1>."
    assert "Pump P-101" in row.prompt and "120 bottles/min" in row.prompt
    assert row.redacted and row.prompt_sha256 == sha256(row.prompt)


def test_audit_redaction_follows_the_redaction_settings_and_can_be_turned_off(
    tmp_path: Path, isolated: Path
) -> None:
    settings = load_settings(
        None,
        store={"path": tmp_path / "a.duckdb"},
        redaction={"id_patterns": {"BADGE": r"\bB\d{6}\b"}, "phones": False},
    )
    llm = LLM.from_settings(settings, provider=ScriptedProvider(["ok"]))
    llm.chat("Badge B123456 of Tom Fletcher, phone +44 20 7946 0958")
    [row] = llm.audit.entries()
    assert "<BADGE_1>" in row.prompt and "<PERSON_1>" in row.prompt and "+44 20 7946 0958" in row.prompt

    plain = make(tmp_path / "plain", [PII_ANSWER], redact=False)
    plain.chat(PII_PROMPT)
    [row] = plain.audit.entries()
    assert "Tom Fletcher" in row.prompt and row.response == PII_ANSWER and not row.redacted


def test_audit_rows_and_cached_answers_expire_after_the_retention_period(
    tmp_path: Path, isolated: Path
) -> None:
    import datetime as dt

    from twinforge.ai.audit import connect

    store = tmp_path / "store.duckdb"
    llm = make(tmp_path, ["new answer"], retention_days=30)
    assert llm.audit.retention_days == 30
    llm.chat("a fresh question")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    with connect(store) as con:
        con.execute(
            "INSERT INTO ai_audit (id, ts, kind, provider, model, prompt_sha256, outcome) "
            "VALUES ('old', ?, 'chat', 'p', 'm', 'x', 'ok')",
            [old],
        )
        con.execute("INSERT INTO ai_cache VALUES ('oldkey', 'p', 'm', '{}', ?, 0)", [old])
    assert AuditLog(store).count() == 2  # a log opened only to read deletes nothing
    keep_forever = AuditLog(store, retention_days=0)
    assert keep_forever.count() == 2 and keep_forever.purge() == 0

    reopened = AuditLog(store, retention_days=30)  # a process opening the log purges at once
    assert reopened.count() == 1 and reopened.entries()[0].prompt and "fresh" in reopened.entries()[0].prompt
    with connect(store) as con:
        keys = [k for (k,) in con.execute("SELECT key FROM ai_cache").fetchall()]
    assert "oldkey" not in keys and len(keys) == 1  # the fresh answer is still cached


def test_retention_and_redaction_settings(isolated: Path) -> None:
    from twinforge.config import ConfigError

    default = load_settings(None).audit
    assert default.redact is True and default.retention_days == 30
    assert AuditLog.from_settings(load_settings(None, audit={"retention_days": 0})).retention_days is None
    with pytest.raises(ConfigError, match="retention_days"):
        load_settings(None, audit={"retention_days": -1})


class FailingStream(ScriptedProvider):
    def stream(self, messages, params) -> Iterator[str | StreamEnd]:
        yield "a"
        raise RuntimeError("llama_decode returned -1")


class FailingRanker(ScriptedProvider):
    can_rank = True

    def rank(self, messages, schema, numbers=()):
        raise RuntimeError("llama_decode returned 1")


def test_every_failed_call_is_audited_with_its_error(tmp_path: Path, isolated: Path) -> None:
    from twinforge.ai.errors import ContextLengthError

    too_long = ContextLengthError(
        "prompt of 6000 tokens exceeds the context length 4096", provider="scripted"
    )
    settings = load_settings(None, store={"path": tmp_path / "store.duckdb"})
    llm = LLM.from_settings(settings, provider=FailingStream([RuntimeError("segfault-ish crash"), too_long]))
    with pytest.raises(RuntimeError):
        llm.chat("first", cache=False)
    with pytest.raises(ContextLengthError):
        llm.generate_structured("x " * 10_000, {"type": "object"})
    stream = llm.stream("third")
    with pytest.raises(RuntimeError):
        "".join(stream)
    ranked = LLM.from_settings(settings, provider=FailingRanker([]))
    with pytest.raises(RuntimeError):
        ranked.choose("which?", ["a", "b"])
    errors = {e.kind: e for e in llm.audit.entries(outcome="error")}
    assert set(errors) == {"chat", "structured", "stream", "ranked"}
    assert errors["chat"].error == "RuntimeError: segfault-ish crash" and errors["chat"].response is None
    assert errors["structured"].error.startswith("prompt of 6000 tokens exceeds the context length")
    assert errors["stream"].error == "RuntimeError: llama_decode returned -1"
    assert errors["ranked"].error == "RuntimeError: llama_decode returned 1"
    assert llm.audit.totals()["scripted/scripted-1"]["errors"] == 4


def test_personal_data_in_an_error_is_redacted_too(tmp_path: Path, isolated: Path) -> None:
    llm = make(tmp_path, [ProviderError("no route to tom.fletcher@acme.com", provider="scripted")])
    with pytest.raises(ProviderError):
        llm.chat("hello")
    [row] = llm.audit.entries()
    assert row.outcome == "error" and row.error == "no route to <EMAIL_1>" and row.redacted
