"""The local llama.cpp provider: model cache, timeouts, grammar schema, runaway guard (real model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinforge.ai import LLM, ModelNotFoundError, ProviderError, ProviderTimeoutError
from twinforge.ai.errors import ContextLengthError
from twinforge.ai.providers.local import (
    MAX_FRACTION_DIGITS,
    LocalLlamaProvider,
    grammar_schema,
    loaded_models,
)
from twinforge.config import load_settings


def test_models_are_loaded_once_per_process() -> None:
    a, b = LocalLlamaProvider(), LocalLlamaProvider()
    assert a.loaded() is b.loaded()
    assert sum(m.path == a.model_path.resolve() for m in loaded_models()) == 1
    assert a.model == "SmolLM2-135M-Instruct.Q4_1.gguf" and a.describe()["grammar_backend"] == "llguidance"


def test_missing_model_and_oversized_prompt_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not found"):
        LocalLlamaProvider(tmp_path / "nope.gguf")
    (tmp_path / "bad.gguf").write_bytes(b"not a gguf")
    with pytest.raises(ModelNotFoundError, match="cannot load"):
        LocalLlamaProvider(tmp_path / "bad.gguf").loaded()
    settings = load_settings(None, store={"path": tmp_path / "s.duckdb"}, llm={"context_length": 256})
    llm = LLM.from_settings(settings)
    with pytest.raises(ProviderError, match="exceeds the context length 256"):
        llm.chat("pump " * 300, max_tokens=16)


def test_a_25_kb_question_is_a_clean_context_error_and_is_audited(tmp_path: Path) -> None:
    """A 25 kB question used to crash ranked decoding inside llama.cpp (``llama_decode returned 1``,
    a RuntimeError that went unaudited); now every path refuses it before llama.cpp is asked."""
    settings = load_settings(None, store={"path": tmp_path / "s.duckdb"})
    llm = LLM.from_settings(settings)
    question = ("How many bottles did filler F-2 produce on line 3 yesterday between shifts? " * 400)[:25_000]
    with pytest.raises(ContextLengthError, match="exceeds the context length 4096"):
        llm.chat(question, max_tokens=16, cache=False)
    with pytest.raises(ContextLengthError, match="exceeds the context length 4096"):
        llm.choose(question, [{"line": 3}, {"line": 4}])
    with pytest.raises(ContextLengthError):
        "".join(llm.stream(question, max_tokens=16))
    errors = llm.audit.entries(outcome="error")
    assert sorted(e.kind for e in errors) == ["chat", "ranked", "stream"]
    assert all("exceeds the context length" in e.error and e.latency_s is not None for e in errors)
    assert llm.choose("Which line makes bottles?", [{"line": 3}, {"line": 4}]).how == "ranked"  # still usable


@pytest.mark.slow
def test_local_timeout_stops_generation(tmp_path: Path) -> None:
    settings = load_settings(None, store={"path": tmp_path / "s.duckdb"}, llm={"timeout_s": 0.2})
    llm = LLM.from_settings(settings)
    with pytest.raises(ProviderTimeoutError, match=r"timeout_s=0\.2"):
        llm.chat("Write a long essay about centrifugal pumps.", max_tokens=400, cache=False)
    assert llm.audit.count(outcome="error") == 1


def test_grammar_schema_closes_objects_but_not_allof_members() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "integer"}}},
            "c": {"type": "object", "properties": {}, "additionalProperties": True},
        },
        "allOf": [{"properties": {"x": {"type": "string"}}}],
        "$defs": {"D": {"type": "object", "properties": {"d": {"enum": [{"properties": 1}]}}}},
    }
    closed = grammar_schema(schema)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["a"]["additionalProperties"] is False
    assert closed["properties"]["c"]["additionalProperties"] is True
    assert "additionalProperties" not in closed["allOf"][0]
    assert closed["$defs"]["D"]["additionalProperties"] is False
    assert closed["$defs"]["D"]["properties"]["d"]["enum"] == [{"properties": 1}]  # data left alone
    assert "additionalProperties" not in schema  # the caller's schema is not modified


def test_runaway_fraction_digits_are_cut_off() -> None:
    provider = LocalLlamaProvider()
    loaded = provider.loaded()
    schema = grammar_schema(
        {
            "type": "object",
            "properties": {"v": {"type": "number", "minimum": 0, "maximum": 5}},
            "required": ["v"],
        }
    )
    mask = provider._llguidance_mask(loaded, schema)
    tok = loaded.ll_tokenizer
    n_vocab = loaded.llama.n_vocab()
    one, close = tok.tokenize_str("1")[-1], tok.tokenize_str("}")[-1]

    def allowed_after(text: str) -> np.ndarray:
        m = provider._llguidance_mask(loaded, schema)
        m(np.array([], dtype=np.intc), np.zeros(n_vocab, dtype=np.float32))
        ids = tok.tokenize_str(text)
        return np.isfinite(m(np.array(ids, dtype=np.intc), np.zeros(n_vocab, dtype=np.float32)))

    short = allowed_after('{"v":0.71')
    assert short[one] and short[close]  # more digits or the end: the grammar's choice
    long = allowed_after('{"v":0.' + "1" * MAX_FRACTION_DIGITS)
    assert not long[one] and long[close]  # the guard ends the number
    assert mask.matcher is not None
