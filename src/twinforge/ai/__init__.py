"""twinforge's Gen-AI runtime: LLM providers, structured output, embeddings, governance.

The entry points (all configured by ``twinforge.toml`` / ``TWINFORGE_*`` variables):

>>> from twinforge.ai import generate, generate_structured, embed
>>> value, meta = generate_structured("Pump P-101 vibrates at 7 mm/s", schema, examples=[...])
>>> meta.attempts, meta.usage, meta.latency_s
>>> text = generate("Summarise ...").text
>>> vectors = embed(["text one", "text two"])          # (2, 384) float32, unit rows

This package knows nothing about twins: callers bring their own schemas.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from twinforge.ai.audit import AuditEntry, AuditLog, ResponseCache
from twinforge.ai.embeddings import (
    AuditedEmbedder,
    Embedder,
    LocalOnnxEmbedder,
    OpenAIEmbedder,
    make_embedder,
)
from twinforge.ai.errors import (
    AIError,
    AuditError,
    ContextLengthError,
    MalformedResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    SchemaError,
    StructuredOutputError,
)
from twinforge.ai.index import Hit, TextIndex, VectorIndex
from twinforge.ai.llm import LLM, make_provider
from twinforge.ai.providers.base import LLMProvider
from twinforge.ai.redaction import Redaction, Redactor
from twinforge.ai.schema import CompiledSchema, compile_schema
from twinforge.ai.types import (
    Attempt,
    ChatStream,
    Completion,
    GenerationParams,
    Message,
    Structured,
    StructuredMeta,
    Usage,
)

__all__ = [
    "LLM",
    "AIError",
    "Attempt",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditedEmbedder",
    "ChatStream",
    "CompiledSchema",
    "Completion",
    "ContextLengthError",
    "Embedder",
    "GenerationParams",
    "Hit",
    "LLMProvider",
    "LocalOnnxEmbedder",
    "MalformedResponseError",
    "Message",
    "ModelNotFoundError",
    "OpenAIEmbedder",
    "ProviderError",
    "ProviderTimeoutError",
    "Redaction",
    "Redactor",
    "ResponseCache",
    "SchemaError",
    "Structured",
    "StructuredMeta",
    "StructuredOutputError",
    "TextIndex",
    "Usage",
    "VectorIndex",
    "compile_schema",
    "embed",
    "generate",
    "generate_structured",
    "get_embedder",
    "get_llm",
    "make_embedder",
    "make_provider",
    "reset_defaults",
    "stream_chat",
]

_DEFAULTS: dict[tuple[str, str], Any] = {}
_DEFAULTS_LOCK = threading.Lock()


def _key(kind: str, settings: Any) -> tuple[str, str]:
    # secrets dump as "**********": add their hashes so two keys give two runtimes
    secrets = [s.api_key.get_secret_value() for s in (settings.llm, settings.embeddings) if s.api_key]
    from twinforge.ai.audit import sha256

    return (kind, settings.model_dump_json() + "|".join(sha256(x) for x in secrets))


def get_llm(settings: Any = None) -> LLM:
    """The process-wide :class:`LLM` for ``settings`` (default: :func:`twinforge.config.load_settings`)."""
    from twinforge.config import load_settings

    settings = settings or load_settings()
    key = _key("llm", settings)
    with _DEFAULTS_LOCK:
        if key not in _DEFAULTS:
            _DEFAULTS[key] = LLM.from_settings(settings)
        return _DEFAULTS[key]


def get_embedder(settings: Any = None) -> Embedder:
    """The process-wide audited :class:`Embedder` for ``settings``."""
    from twinforge.config import load_settings

    settings = settings or load_settings()
    key = _key("embed", settings)
    with _DEFAULTS_LOCK:
        if key not in _DEFAULTS:
            red = settings.redaction
            _DEFAULTS[key] = AuditedEmbedder(
                make_embedder(settings.embeddings),
                AuditLog.from_settings(settings),
                Redactor.from_settings(red) if red.enabled else None,
            )
        return _DEFAULTS[key]


def reset_defaults() -> None:
    """Forget the process-wide LLM and embedder (loaded models stay cached)."""
    with _DEFAULTS_LOCK:
        _DEFAULTS.clear()


def generate(prompt: Any, *, settings: Any = None, **options: Any) -> Completion:
    """Free-text completion with the configured LLM. Options: system, max_tokens, temperature, seed, stop."""
    return get_llm(settings).chat(prompt, **options)


def stream_chat(prompt: Any, *, settings: Any = None, **options: Any) -> ChatStream:
    """Streamed completion: ``for piece in stream_chat(...)``; then ``.completion``."""
    return get_llm(settings).stream(prompt, **options)


def generate_structured(
    prompt: Any,
    schema: Any,
    *,
    examples: Sequence[Any] | None = None,
    system: str | None = None,
    max_repairs: int = 2,
    settings: Any = None,
    **options: Any,
) -> Structured:
    """A validated object for ``schema`` (JSON Schema dict or pydantic model): ``value, meta = ...``.

    Raises :class:`StructuredOutputError` (with every attempt) when no valid value was produced.
    """
    return get_llm(settings).generate_structured(
        prompt, schema, examples=examples, system=system, max_repairs=max_repairs, **options
    )


def embed(texts: Sequence[str] | str, *, settings: Any = None) -> np.ndarray:
    """``(n, dim)`` float32 unit vectors for ``texts`` with the configured embedder."""
    return get_embedder(settings).embed(texts)
