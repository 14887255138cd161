"""The LLM front door: one provider plus the governance every call goes through.

Each call: redact (non-local providers) → look up the response cache → call the provider →
write the audit row → restore placeholders in the answer. Structured calls add: constrain to
the schema → parse → validate → on failure feed the error back and retry (bounded).

Every call is audited, failed ones too: a provider error, a timeout, a prompt too long for the
model's context, or any other exception raised by the provider gets an ``error`` row with the
error's text before the exception goes on to the caller.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from twinforge.ai.audit import AuditLog, ResponseCache, cache_key
from twinforge.ai.errors import AIError, ProviderError, SchemaError, StructuredOutputError
from twinforge.ai.providers.base import LLMProvider, StreamEnd
from twinforge.ai.redaction import Redaction, Redactor
from twinforge.ai.schema import CompiledSchema, compile_schema
from twinforge.ai.types import (
    Attempt,
    ChatStream,
    Completion,
    GenerationParams,
    Message,
    PromptLike,
    Structured,
    StructuredMeta,
    Usage,
    to_messages,
)

STRUCTURED_SYSTEM_PROMPT = (
    "You turn the user's request into one JSON value that follows the given JSON Schema. "
    "Use only facts stated in the request. Reply with the JSON only."
)


@dataclass(frozen=True)
class Choice:
    """The option a model chose: its index, how sure it was (the log-probability margin over the
    runner-up when ranked; None when generated), and how it was chosen."""

    index: int
    margin: float | None
    how: str


#: few-shot examples: (input text, output object) pairs, or ready-made messages
Examples = Sequence[tuple[str, Any]] | Sequence[Message]


def error_text(exc: BaseException) -> str:
    """How a failed call's error is written to the audit log: the message of twinforge's own
    errors, ``Type: message`` for anything else (a crash of a runtime, a bug)."""
    return str(exc) if isinstance(exc, AIError) else f"{type(exc).__name__}: {exc}"


def make_provider(llm_settings: Any) -> LLMProvider:
    """The provider named by an ``[llm]`` settings section."""
    if llm_settings.provider == "local":
        from twinforge.ai.providers.local import LocalLlamaProvider

        return LocalLlamaProvider(
            llm_settings.model,
            context_length=llm_settings.context_length,
            threads=llm_settings.threads,
            grammar_backend=llm_settings.grammar_backend,
            extra_buffer_types=llm_settings.extra_buffer_types,
            timeout_s=llm_settings.timeout_s,
        )
    if llm_settings.provider == "openai":
        from twinforge.ai.providers.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider(
            llm_settings.model or "",
            base_url=llm_settings.base_url,
            api_key=llm_settings.api_key.get_secret_value() if llm_settings.api_key else None,
            timeout_s=llm_settings.timeout_s,
            max_retries=llm_settings.max_retries,
            backoff_s=llm_settings.backoff_s,
            structured_mode=llm_settings.structured_mode,
        )
    raise AIError(f"unknown LLM provider {llm_settings.provider!r}; expected local or openai")


class LLM:
    """A provider with audit log, response cache and redaction. Build with :meth:`from_settings`."""

    def __init__(
        self,
        provider: LLMProvider,
        *,
        audit: AuditLog | None = None,
        cache: ResponseCache | None = None,
        redactor: Redactor | None = None,
        redact_local: bool = False,
        defaults: GenerationParams | None = None,
        cache_by_default: bool = True,
    ):
        self.provider = provider
        self.audit = audit
        self.cache = cache
        self.redactor = redactor
        self.redact_local = redact_local
        self.defaults = defaults or GenerationParams()
        self.cache_by_default = cache_by_default

    @classmethod
    def from_settings(cls, settings: Any = None, provider: LLMProvider | None = None) -> LLM:
        """Everything from :func:`twinforge.config.load_settings` (or the given ``Settings``)."""
        from twinforge.config import load_settings

        settings = settings or load_settings()
        llm = settings.llm
        store = settings.store.path
        red = settings.redaction
        return cls(
            provider or make_provider(llm),
            audit=AuditLog.from_settings(settings),
            cache=ResponseCache(store, enabled=llm.cache),
            redactor=Redactor.from_settings(red) if red.enabled else None,
            redact_local=red.redact_local,
            defaults=GenerationParams(max_tokens=llm.max_tokens, temperature=llm.temperature, seed=llm.seed),
            cache_by_default=llm.cache,
        )

    # -- public calls -----------------------------------------------------------------------------

    @property
    def redacts(self) -> bool:
        """True when text is redacted before it reaches this provider."""
        return self.redactor is not None and (not self.provider.is_local or self.redact_local)

    def params(self, **changes: Any) -> GenerationParams:
        stop = changes.pop("stop", None)
        params = self.defaults.with_(**changes)
        return params.with_(stop=tuple(stop)) if stop else params

    def chat(
        self,
        prompt: PromptLike,
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        cache: bool | None = None,
    ) -> Completion:
        """Free-text answer to a prompt or a conversation."""
        messages = to_messages(prompt, system)
        params = self.params(max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop)
        completion, _sent, _red = self._complete(messages, params, kind="chat", use_cache=cache)
        return completion

    def stream(
        self,
        prompt: PromptLike,
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
    ) -> ChatStream:
        """Stream the answer: iterate for text pieces; ``.completion`` has tokens and latency after."""
        messages = to_messages(prompt, system)
        params = self.params(max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop)
        redaction = Redaction()
        sent = self._redact(messages, redaction)
        start = time.perf_counter()
        end: dict[str, Any] = {}

        pieces_seen: list[str] = []

        def pieces() -> Iterator[str]:
            events: Any = None
            try:
                events = self.provider.stream(sent, params)
                for event in events:
                    if isinstance(event, StreamEnd):
                        end["event"] = event
                    else:
                        pieces_seen.append(event)
                        yield redaction.restore(event) if len(redaction) else event
            except GeneratorExit:  # the consumer stopped early
                end["interrupted"] = True
                close = getattr(events, "close", None)
                if close is not None:
                    close()
                raise
            except Exception as exc:
                self._audit(
                    "stream",
                    sent,
                    None,
                    "error",
                    params=params,
                    error=error_text(exc),
                    latency_s=time.perf_counter() - start,
                    redacted=bool(len(redaction)),
                )
                raise

        def finish(text: str) -> Completion:
            event: StreamEnd | None = end.get("event")
            completion = Completion(
                text=text,
                provider=self.provider.name,
                model=self.provider.model,
                usage=event.usage if event else Usage(0, len(pieces_seen)),
                latency_s=time.perf_counter() - start,
                finish_reason="interrupted"
                if end.get("interrupted")
                else (event.finish_reason if event else None),
            )
            sent_text = self._sent_text(text, redaction)
            self._audit(
                "stream",
                sent,
                sent_text,
                "ok",
                params=params,
                usage=completion.usage,
                latency_s=completion.latency_s,
                redacted=bool(len(redaction)),
            )
            return completion

        return ChatStream(pieces(), finish)

    def generate_structured(
        self,
        prompt: PromptLike,
        schema: dict[str, Any] | type[BaseModel] | CompiledSchema,
        *,
        system: str | None = None,
        examples: Examples | None = None,
        max_repairs: int = 2,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        cache: bool | None = None,
        repair_temperature: float = 0.5,
    ) -> Structured:
        """A value that validates against ``schema`` — or :class:`StructuredOutputError`.

        ``schema`` is a JSON Schema dict (the value returned is plain JSON data) or a pydantic
        model class (the value is an instance). ``examples`` are few-shot pairs
        ``(input text, output object)``; they are checked against the schema first. Decoding is
        deterministic unless ``temperature`` is raised. After an invalid answer the validation
        error is sent back to the model, at most ``max_repairs`` times; repairs sample at
        ``repair_temperature`` (seeded, so still reproducible) — greedy decoding of a small model
        tends to repeat the same mistake.
        """
        if max_repairs < 0:
            raise AIError(f"max_repairs must be >= 0; found {max_repairs}")
        compiled = compile_schema(schema)
        messages = self._structured_messages(prompt, compiled, system, examples)
        # deterministic unless asked otherwise, whatever the configured chat temperature
        params = self.params(max_tokens=max_tokens, temperature=temperature or 0.0, seed=seed)
        call_id = uuid.uuid4().hex
        redaction = Redaction()
        attempts: list[Attempt] = []
        total = Usage()
        start = time.perf_counter()
        for number in range(1, max_repairs + 2):
            if number > 1:
                params = params.with_(
                    temperature=max(params.temperature, repair_temperature),
                    seed=None if params.seed is None else params.seed + 1,
                )
            completion, sent, redaction = self._complete(
                messages,
                params,
                kind="structured",
                json_schema=compiled.json_schema,
                use_cache=cache,
                redaction=redaction,
                audit=False,
            )
            value, error = self._parse(completion, compiled, params)
            attempts.append(
                Attempt(
                    number, completion.text, error, completion.usage, completion.latency_s, completion.cached
                )
            )
            total = total + (Usage() if completion.cached else completion.usage)
            self._audit(
                "structured",
                sent,
                self._sent_text(completion.text, redaction),
                "cache_hit"
                if completion.cached and error is None
                else ("ok" if error is None else "invalid"),
                params=params,
                usage=completion.usage,
                latency_s=completion.latency_s,
                json_schema=compiled.json_schema,
                error=error,
                attempt=number,
                call_id=call_id,
                redacted=bool(len(redaction)),
            )
            if error is None:
                meta = StructuredMeta(
                    self.provider.name, self.provider.model, attempts, total, time.perf_counter() - start
                )
                return Structured(value, meta)
            messages = [
                *messages,
                Message("assistant", completion.text),
                Message(
                    "user",
                    f"That answer is not valid: {error}. Reply again with corrected JSON that follows the schema.",
                ),
            ]
        raise StructuredOutputError(
            f"no valid {compiled.name} after {len(attempts)} attempt(s) with {self.provider.name}/{self.provider.model}",
            attempts,
        )

    # -- internals ----------------------------------------------------------------------------------

    def decode_ranked(
        self,
        prompt: PromptLike,
        schema: dict[str, Any],
        *,
        numbers: Any = (),
        system: str | None = None,
        examples: Examples | None = None,
    ) -> tuple[Any, Any]:
        """Decode ``schema`` by ranking the continuations the schema allows (local provider only).

        The model chooses among enum values, union members, optional keys and array lengths; number
        slots take one of ``numbers``. Returns ``(value, RankedResult)``; the call is audited.
        Raises :class:`ProviderError` for providers that cannot score continuations.
        """
        if not getattr(self.provider, "can_rank", False):
            raise ProviderError(
                f"ranked decoding needs a provider that scores continuations (the local one), not "
                f"{self.provider.name!r}; use generate_structured or choose",
                provider=self.provider.name,
            )
        messages = self._structured_messages(prompt, compile_schema(schema), system, examples)
        params = self.params(temperature=0.0)
        started = time.perf_counter()
        try:
            result = self.provider.rank(messages, schema, numbers=numbers)
        except Exception as exc:
            self._audit(
                "ranked",
                messages,
                None,
                "error",
                params=params,
                json_schema=schema,
                error=error_text(exc),
                latency_s=time.perf_counter() - started,
            )
            raise
        usage = Usage(prompt_tokens=result.prompt_tokens, completion_tokens=result.scored_tokens)
        self._audit(
            "ranked",
            messages,
            result.text,
            "ok",
            params=params,
            usage=usage,
            json_schema=schema,
            latency_s=time.perf_counter() - started,
        )
        return result.value, result

    def choose(
        self,
        prompt: PromptLike,
        options: Sequence[Any],
        *,
        system: str | None = None,
        examples: Examples | None = None,
    ) -> Choice:
        """Which of ``options`` (JSON values) answers ``prompt``. A provider that scores
        continuations ranks the options' JSON text after the prompt (the model writes nothing);
        any other is asked for the option's number under a JSON Schema. Audited either way."""
        if not options:
            raise AIError("choose needs at least one option")
        if len(options) == 1:
            return Choice(0, math.inf, "single option")
        if getattr(self.provider, "can_rank", False):
            value, result = self.decode_ranked(
                prompt, {"enum": list(options)}, system=system, examples=examples
            )
            index = next(i for i, o in enumerate(options) if o == value)
            return Choice(index, result.min_margin, "ranked")
        listing = "\n".join(f"{i}. {json.dumps(o, ensure_ascii=False)}" for i, o in enumerate(options, 1))
        question = prompt if isinstance(prompt, str) else "\n".join(m.content for m in to_messages(prompt))
        ask = f"{question}\n\nWhich of these plans answers the request? Reply with its number.\n{listing}"
        schema = {
            "type": "object",
            "properties": {"choice": {"type": "integer", "enum": list(range(1, len(options) + 1))}},
            "required": ["choice"],
            "additionalProperties": False,
        }
        structured = self.generate_structured(ask, schema, system=system)
        return Choice(int(structured.value["choice"]) - 1, None, "generated")

    def _structured_messages(
        self, prompt: PromptLike, compiled: CompiledSchema, system: str | None, examples: Examples | None
    ) -> list[Message]:
        head = STRUCTURED_SYSTEM_PROMPT + (f"\n{system}" if system else "")
        shots: list[Message] = []
        for i, example in enumerate(examples or []):
            if isinstance(example, Message):
                shots.append(example)
                continue
            try:
                text, output = example
            except (TypeError, ValueError):
                raise SchemaError(
                    f"example [{i}] must be a Message or a pair (input text, output object)"
                ) from None
            data = output.model_dump(mode="json") if isinstance(output, BaseModel) else output
            _, error = compiled.validate(data)
            if error:
                raise SchemaError(f"example [{i}] does not follow the schema: {error}")
            shots += [Message("user", text), Message("assistant", json.dumps(data, ensure_ascii=False))]
        body = to_messages(prompt)
        own_system = [m.content for m in body if m.role == "system"]
        if own_system:
            head += "\n" + "\n".join(own_system)
        return [Message("system", head), *shots, *[m for m in body if m.role != "system"]]

    def _parse(
        self, completion: Completion, compiled: CompiledSchema, params: GenerationParams
    ) -> tuple[Any, str | None]:
        try:
            data = json.loads(completion.text)
        except json.JSONDecodeError as exc:
            if completion.finish_reason == "length":
                return None, f"the JSON was cut off at max_tokens={params.max_tokens} (answer shorter)"
            return None, f"not valid JSON ({exc.msg} at character {exc.pos})"
        return compiled.validate(data)

    def _redact(self, messages: list[Message], redaction: Redaction) -> list[Message]:
        if not self.redacts:
            return messages
        assert self.redactor is not None
        return [Message(m.role, self.redactor.redact(m.content, redaction).text) for m in messages]

    def _sent_text(self, restored_text: str, redaction: Redaction) -> str:
        """The answer as the provider wrote it (placeholders in), for the audit log."""
        if not len(redaction):
            return restored_text
        text = restored_text
        for placeholder, value in sorted(redaction.by_placeholder.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(value, placeholder)
        return text

    def _complete(
        self,
        messages: list[Message],
        params: GenerationParams,
        *,
        kind: str,
        json_schema: dict[str, Any] | None = None,
        use_cache: bool | None = None,
        redaction: Redaction | None = None,
        audit: bool = True,
    ) -> tuple[Completion, list[Message], Redaction]:
        redaction = redaction if redaction is not None else Redaction()
        sent = self._redact(messages, redaction)
        if use_cache is None:
            use_cache = self.cache_by_default and params.temperature == 0
        key = None
        if use_cache and self.cache is not None:
            key = cache_key(
                self.provider.name,
                self.provider.model,
                [m.as_dict() for m in sent],
                json_schema,
                params.as_dict(),
            )
            lookup_start = time.perf_counter()
            hit = self.cache.get(key)
            if hit is not None:
                if audit:
                    self._audit(
                        kind,
                        sent,
                        hit.text,
                        "cache_hit",
                        params=params,
                        usage=hit.usage,
                        latency_s=time.perf_counter() - lookup_start,
                        json_schema=json_schema,
                        redacted=bool(len(redaction)),
                    )
                return self._restored(hit, redaction), sent, redaction
        started = time.perf_counter()
        try:
            completion = self.provider.complete(sent, params, json_schema)
        except Exception as exc:
            self._audit(
                kind,
                sent,
                None,
                "error",
                params=params,
                json_schema=json_schema,
                error=error_text(exc),
                latency_s=time.perf_counter() - started,
                redacted=bool(len(redaction)),
            )
            raise
        if audit:
            self._audit(
                kind,
                sent,
                completion.text,
                "ok",
                params=params,
                usage=completion.usage,
                latency_s=completion.latency_s,
                json_schema=json_schema,
                redacted=bool(len(redaction)),
            )
        if key is not None and self.cache is not None:
            self.cache.put(key, completion)
        return self._restored(completion, redaction), sent, redaction

    @staticmethod
    def _restored(completion: Completion, redaction: Redaction) -> Completion:
        if not len(redaction):
            return completion
        from dataclasses import replace

        return replace(completion, text=redaction.restore(completion.text))

    def _audit(
        self,
        kind: str,
        sent: list[Message],
        response: str | None,
        outcome: str,
        *,
        params: GenerationParams,
        usage: Usage | None = None,
        latency_s: float | None = None,
        json_schema: dict[str, Any] | None = None,
        error: str | None = None,
        attempt: int | None = None,
        call_id: str | None = None,
        redacted: bool = False,
    ) -> None:
        if self.audit is None:
            return
        self.audit.record(
            kind=kind,
            provider=self.provider.name,
            model=self.provider.model,
            prompt=json.dumps([m.as_dict() for m in sent], ensure_ascii=False),
            response=response,
            outcome=outcome,
            usage=usage,
            latency_s=latency_s,
            json_schema=json_schema,
            params=params.as_dict(),
            error=error,
            attempt=attempt,
            call_id=call_id,
            redacted=redacted,
        )
