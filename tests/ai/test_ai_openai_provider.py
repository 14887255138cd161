"""The OpenAI-compatible provider against a real HTTP server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from openai_stub import StubServer, running_stub, vector_for

from twinforge.ai import (
    LLM,
    MalformedResponseError,
    ProviderError,
    ProviderTimeoutError,
    StructuredOutputError,
    get_embedder,
    reset_defaults,
)
from twinforge.config import load_settings

LOG = (
    "Technician John Miller (john.miller@acme.com, +49 170 1234567) replaced bearing on P-101, WO-2024-00123"
)

SCHEMA = {
    "type": "object",
    "properties": {
        "asset": {"enum": ["P-101", "P-102"]},
        "technician": {"type": "string"},
        "hours": {"type": "number", "minimum": 0, "maximum": 24},
    },
    "required": ["asset", "technician", "hours"],
}


@pytest.fixture
def stub():
    with running_stub() as server:
        yield server


def make_llm(stub: StubServer, tmp_path: Path, **llm: object) -> LLM:
    options = {
        "provider": "openai",
        "model": "gpt-test",
        "base_url": stub.base_url,
        "api_key": "sk-test",
        "timeout_s": 5,
        "max_retries": 2,
        "backoff_s": 0.01,
        **llm,
    }
    settings = load_settings(None, store={"path": tmp_path / "store.duckdb"}, llm=options)
    return LLM.from_settings(settings)


def test_chat_counts_tokens_and_latency(stub: StubServer, tmp_path: Path, isolated: Path) -> None:
    llm = make_llm(stub, tmp_path)
    c = llm.chat("Say hello", system="Be brief.", max_tokens=20)
    assert c.text == "Hello from the stub."
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (4, 4)
    assert c.latency_s > 0 and c.provider == "openai" and c.model == "gpt-test"
    body = stub.requests[0]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (20, 0.0, 0)
    assert llm.audit.count(kind="chat", outcome="ok") == 1


def test_streaming_yields_pieces_and_usage(stub: StubServer, tmp_path: Path, isolated: Path) -> None:
    stub.reply = lambda body: "one two three four"
    llm = make_llm(stub, tmp_path)
    stream = llm.stream("count")
    pieces = list(stream)
    assert pieces == ["one", " two", " three", " four"]
    assert stream.completion is not None and stream.completion.text == "one two three four"
    assert stream.completion.usage.completion_tokens == 4 and stream.completion.finish_reason == "stop"
    assert stub.requests[0]["stream"] is True
    rows = llm.audit.entries(kind="stream")
    assert len(rows) == 1 and rows[0].response == "one two three four" and rows[0].completion_tokens == 4


def test_structured_with_response_format_and_redaction(
    stub: StubServer, tmp_path: Path, isolated: Path
) -> None:
    def reply(body: dict) -> str:
        user = body["messages"][-1]["content"]
        # a model would copy the placeholder it was given
        who = user.split("Technician ")[1].split(" ")[0]
        return json.dumps({"asset": "P-101", "technician": who, "hours": 1.5})

    stub.reply = reply
    llm = make_llm(stub, tmp_path)
    value, meta = llm.generate_structured(LOG, SCHEMA)
    assert value == {"asset": "P-101", "technician": "John Miller", "hours": 1.5}  # placeholder mapped back
    sent = json.dumps(stub.requests[0])
    for secret in ("John Miller", "john.miller@acme.com", "+49 170 1234567"):
        assert secret not in sent
    assert "<PERSON_1>" in sent and "<EMAIL_1>" in sent and "<PHONE_1>" in sent
    assert "P-101" in sent and "WO-2024-00123" in sent  # asset tags and work orders are not personal
    rf = stub.requests[0]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == SCHEMA
    assert len(meta.attempts) == 1
    row = llm.audit.entries(kind="structured")[0]
    assert row.redacted and "John Miller" not in row.prompt and "<PERSON_1>" in row.response


def test_structured_with_tool_calling(stub: StubServer, tmp_path: Path, isolated: Path) -> None:
    stub.reply = lambda body: json.dumps({"asset": "P-102", "technician": "n/a", "hours": 3})
    llm = make_llm(stub, tmp_path, structured_mode="tools")
    value, _ = llm.generate_structured("P-102 took 3 hours", SCHEMA)
    assert value == {"asset": "P-102", "technician": "n/a", "hours": 3}
    body = stub.requests[0]
    assert body["tool_choice"]["function"]["name"] == body["tools"][0]["function"]["name"]
    assert body["tools"][0]["function"]["parameters"] == SCHEMA


def test_invalid_answers_are_repaired_with_the_error_fed_back(
    stub: StubServer, tmp_path: Path, isolated: Path
) -> None:
    answers = iter(
        [
            '{"asset": "P-101", "technician": "x", "hours": 30}',  # out of bounds
            '{"asset": "P-101", "technician": "x"',  # broken JSON
            '{"asset": "P-101", "technician": "x", "hours": 3}',
        ]
    )
    stub.reply = lambda body: next(answers)
    llm = make_llm(stub, tmp_path)
    value, meta = llm.generate_structured("P-101 took 3 hours", SCHEMA, max_repairs=2)
    assert value["hours"] == 3
    assert [a.ok for a in meta.attempts] == [False, False, True]
    assert "hours" in meta.attempts[0].error and "maximum" in meta.attempts[0].error
    assert "not valid JSON" in meta.attempts[1].error
    feedback = stub.requests[1]["messages"][-1]["content"]
    assert "not valid" in feedback and "hours" in feedback
    assert stub.requests[1]["messages"][-2] == {
        "role": "assistant",
        "content": '{"asset": "P-101", "technician": "x", "hours": 30}',
    }
    assert meta.usage.completion_tokens == sum(a.usage.completion_tokens for a in meta.attempts)
    assert llm.audit.count(kind="structured", outcome="invalid") == 2
    assert llm.audit.count(kind="structured", outcome="ok") == 1


def test_caller_never_gets_an_invalid_object(stub: StubServer, tmp_path: Path, isolated: Path) -> None:
    stub.reply = lambda body: '{"asset": "P-999", "technician": "x", "hours": 1}'
    llm = make_llm(stub, tmp_path)
    with pytest.raises(StructuredOutputError) as err:
        llm.generate_structured("?", SCHEMA, max_repairs=1)
    assert len(err.value.attempts) == 2 and all("P-999" in a.text for a in err.value.attempts)
    assert "asset" in str(err.value)


def test_malformed_responses_are_retried(stub: StubServer, tmp_path: Path, isolated: Path) -> None:
    stub.script = ["no_choices", "garbage"]
    llm = make_llm(stub, tmp_path)
    assert llm.chat("hi").text == "Hello from the stub."
    assert len(stub.requests) == 3 and llm.provider.last_attempts == 3

    stub.script = ["no_choices"] * 3
    with pytest.raises(MalformedResponseError) as err:
        llm.chat("hi again")
    assert err.value.attempts == 3 and "no choices" in str(err.value)
    assert llm.audit.count(outcome="error") == 1


def test_server_errors_and_rate_limits_are_retried_client_errors_are_not(
    stub: StubServer, tmp_path: Path, isolated: Path
) -> None:
    stub.script = ["500", "429"]
    llm = make_llm(stub, tmp_path)
    assert llm.chat("hi").text == "Hello from the stub."
    assert len(stub.requests) == 3

    stub.script = ["400"]
    with pytest.raises(ProviderError) as err:
        llm.chat("hi there")
    assert "HTTP 400" in str(err.value) and "unknown model" in str(err.value)
    assert err.value.attempts == 1 and len(stub.requests) == 4


def test_a_prompt_too_long_for_the_model_is_a_context_error_and_is_audited(
    stub: StubServer, tmp_path: Path, isolated: Path
) -> None:
    from twinforge.ai.errors import ContextLengthError

    stub.script = ["context"]
    llm = make_llm(stub, tmp_path)
    with pytest.raises(ContextLengthError, match="maximum context length is 4096") as err:
        llm.chat("pump " * 6000)
    assert err.value.attempts == 1 and not err.value.retryable and len(stub.requests) == 1
    [row] = llm.audit.entries(outcome="error")
    assert "context_length_exceeded" in row.error and row.kind == "chat"


def test_timeouts_are_retried_then_reported(stub: StubServer, tmp_path: Path, isolated: Path) -> None:
    stub.slow_s = 1.0
    stub.script = ["slow"]
    llm = make_llm(stub, tmp_path, timeout_s=0.3, max_retries=1)
    assert llm.chat("hi").text == "Hello from the stub."  # second try answers at once
    stub.script = ["slow", "slow"]
    with pytest.raises(ProviderTimeoutError) as err:
        llm.chat("hi again")
    assert err.value.attempts == 2


def test_connection_refused_is_a_provider_error(tmp_path: Path, isolated: Path) -> None:
    settings = load_settings(
        None,
        store={"path": tmp_path / "s.duckdb"},
        llm={
            "provider": "openai",
            "model": "m",
            "base_url": "http://127.0.0.1:9/v1",
            "max_retries": 1,
            "backoff_s": 0.01,
        },
    )
    with pytest.raises(ProviderError, match="cannot connect"):
        LLM.from_settings(settings).chat("hi")


def test_embeddings_endpoint(stub: StubServer, tmp_path: Path, isolated: Path) -> None:
    settings = load_settings(
        None,
        store={"path": tmp_path / "store.duckdb"},
        embeddings={
            "provider": "openai",
            "model": "text-embedding-test",
            "base_url": stub.base_url,
            "batch_size": 2,
        },
    )
    reset_defaults()
    embedder = get_embedder(settings)
    texts = ["pump bearing failure", "conveyor belt slip", "Call John Miller at +49 170 1234567"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    expected = np.array(vector_for(texts[0]), dtype=np.float32)
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-5)  # order restored
    assert [len(r["input"]) for r in stub.requests] == [2, 1]  # batched
    assert "John Miller" not in json.dumps(stub.requests)  # redacted before leaving the machine
    rows = embedder.audit.entries(kind="embed")
    assert len(rows) == 1 and rows[0].provider == "openai" and rows[0].redacted
    reset_defaults()


def test_cli_check_against_an_openai_compatible_server(stub: StubServer, isolated: Path) -> None:
    from typer.testing import CliRunner

    from twinforge.cli.main import app

    def reply(body: dict) -> str:
        if "response_format" in body:
            return json.dumps({"asset": "P-101", "action": "replace", "part": "bearing", "hours": 2.5})
        return "Bearings fail from poor lubrication."

    stub.reply = reply
    result = CliRunner().invoke(
        app, ["llm", "check", "--provider", "openai", "--model", "gpt-test", "--base-url", stub.base_url]
    )
    assert result.exit_code == 0, result.output
    assert "on (remote provider)" in result.output and '"part": "bearing"' in result.output
    assert "Bearings fail from poor lubrication." in result.output
    assert "John Miller" not in json.dumps(stub.requests)  # the check's log line was redacted
    stub.script = ["400"]
    failed = CliRunner().invoke(
        app, ["llm", "check", "--provider", "openai", "--model", "gpt-test", "--base-url", stub.base_url]
    )
    assert failed.exit_code == 2 and "HTTP 400" in failed.output and "Traceback" not in failed.output


def test_runtimes_differ_by_api_key(isolated: Path) -> None:
    from twinforge.ai import get_llm

    a = load_settings(None, llm={"provider": "openai", "model": "m", "api_key": "k1"})
    b = load_settings(None, llm={"provider": "openai", "model": "m", "api_key": "k2"})
    reset_defaults()
    assert get_llm(a) is get_llm(a) and get_llm(a) is not get_llm(b)
    reset_defaults()
