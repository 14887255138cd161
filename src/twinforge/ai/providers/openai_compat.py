"""OpenAI-compatible endpoints (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server, LM Studio).

Transport goes through the official ``openai`` client with its own retries switched off:
retries happen here so that every try is counted, back-off is exponential with jitter
(honouring ``Retry-After``), and malformed answers (no choices, broken JSON body) are retried
like timeouts and 5xx/429 errors. Client errors (400, 401, 403, 404, 422) are not retried; a
400 saying the prompt does not fit the model's context is a :class:`ContextLengthError`.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from twinforge.ai.errors import (
    ContextLengthError,
    MalformedResponseError,
    ProviderError,
    ProviderTimeoutError,
)
from twinforge.ai.providers.base import LLMProvider, StreamEnd
from twinforge.ai.types import Completion, GenerationParams, Message, Usage

T = TypeVar("T")

#: name of the function the model is forced to call in ``structured_mode="tools"``.
ANSWER_TOOL = "submit_answer"
MAX_BACKOFF_S = 20.0


def make_client(base_url: str | None, api_key: str | None, timeout_s: float) -> Any:
    import openai

    return openai.OpenAI(
        base_url=base_url,
        # local servers (Ollama, vLLM, llama.cpp) accept any key; the client insists on one
        api_key=api_key or "not-needed",
        timeout=timeout_s,
        max_retries=0,
    )


def call_with_retries(
    fn: Callable[[], T],
    *,
    provider: str,
    max_retries: int,
    backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Run ``fn`` and retry on transient failures; returns (result, attempts used)."""
    import openai

    attempt = 0
    while True:
        attempt += 1
        retry_after: float | None = None
        try:
            return fn(), attempt
        except openai.APITimeoutError:
            error: ProviderError = ProviderTimeoutError(
                f"{provider}: no answer within the timeout", provider=provider, retryable=True
            )
        except openai.APIConnectionError as exc:
            error = ProviderError(
                f"{provider}: cannot connect ({exc.__cause__ or exc})", provider=provider, retryable=True
            )
        except openai.APIStatusError as exc:
            status = exc.status_code
            retryable = status in (408, 409, 429) or status >= 500
            full = exc.response.text if exc.response is not None else str(exc)
            body = _short(full)
            too_long = status in (400, 413) and _CONTEXT_TOO_LONG.search(full)
            kind = ContextLengthError if too_long else ProviderError
            error = kind(f"{provider}: HTTP {status}: {body}", provider=provider, retryable=retryable)
            header = exc.response.headers.get("retry-after") if exc.response is not None else None
            if header:
                try:
                    retry_after = float(header)
                except ValueError:
                    retry_after = None
        except MalformedResponseError as exc:
            error = exc
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
            error = MalformedResponseError(
                f"{provider}: malformed response: {exc}", provider=provider, retryable=True
            )
        error.attempts = attempt
        if not error.retryable or attempt > max_retries:
            if attempt > 1:
                error.args = (f"{error.args[0]} (after {attempt} attempts)",)
            raise error
        delay = min(MAX_BACKOFF_S, backoff_s * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        sleep(max(delay, retry_after or 0.0))


#: how OpenAI, vLLM, llama.cpp's server and Ollama say that a prompt does not fit the context
_CONTEXT_TOO_LONG = re.compile(
    r"context_length_exceeded|maximum context length|context window|exceeds? the (?:available )?context|"
    r"too many tokens|prompt is too long",
    re.IGNORECASE,
)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OpenAICompatibleProvider(LLMProvider):
    """Chat completions over HTTP with the ``openai`` client (any OpenAI-compatible server)."""

    name = "openai"
    is_local = False

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        structured_mode: str = "json_schema",
    ):
        if not model:
            raise ProviderError(
                "the openai provider needs a model name: set [llm] model or TWINFORGE_LLM_MODEL"
            )
        if structured_mode not in ("json_schema", "tools"):
            raise ProviderError(f"unknown structured_mode {structured_mode!r}; expected json_schema or tools")
        self._model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.structured_mode = structured_mode
        self.client = make_client(base_url, api_key, timeout_s)
        #: requests sent by the last call (1 + retries)
        self.last_attempts = 0

    @property
    def model(self) -> str:
        return self._model

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.model,
            "base_url": str(self.client.base_url),
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "structured_mode": self.structured_mode,
        }

    def _retrying(self, fn: Callable[[], T]) -> T:
        result, self.last_attempts = call_with_retries(
            fn, provider=self.name, max_retries=self.max_retries, backoff_s=self.backoff_s
        )
        return result

    def _kwargs(self, params: GenerationParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.stop:
            kwargs["stop"] = list(params.stop)
        return kwargs

    def complete(
        self,
        messages: list[Message],
        params: GenerationParams,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        kwargs = self._kwargs(params)
        kwargs["messages"] = [m.as_dict() for m in messages]
        if json_schema is not None:
            if self.structured_mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": json_schema, "strict": False},
                }
            else:
                kwargs["tools"] = [
                    {
                        "type": "function",
                        "function": {
                            "name": ANSWER_TOOL,
                            "description": "Submit the answer as arguments following the schema.",
                            "parameters": json_schema,
                        },
                    }
                ]
                kwargs["tool_choice"] = {"type": "function", "function": {"name": ANSWER_TOOL}}

        def call() -> tuple[Any, float]:
            start = time.perf_counter()
            response = self.client.chat.completions.create(**kwargs)
            latency = time.perf_counter() - start
            self._check(response)
            return response, latency

        response, latency = self._retrying(call)
        choice = response.choices[0]
        message = choice.message
        text = message.content or ""
        if json_schema is not None and self.structured_mode == "tools":
            calls = getattr(message, "tool_calls", None) or []
            text = calls[0].function.arguments if calls else text
        usage = response.usage
        return Completion(
            text=text,
            provider=self.name,
            model=getattr(response, "model", None) or self.model,
            usage=Usage(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0),
            latency_s=latency,
            finish_reason=choice.finish_reason,
        )

    def _check(self, response: Any) -> None:
        """The client builds objects from any JSON; make sure this one is a real completion."""
        choices = getattr(response, "choices", None)
        if isinstance(response, str) or not choices:
            raise MalformedResponseError(
                f"{self.name}: malformed response: no choices in {_short(str(response))}",
                provider=self.name,
                retryable=True,
            )
        message = getattr(choices[0], "message", None)
        if message is None or (message.content is None and not getattr(message, "tool_calls", None)):
            raise MalformedResponseError(
                f"{self.name}: malformed response: choice without message content",
                provider=self.name,
                retryable=True,
            )

    def stream(self, messages: list[Message], params: GenerationParams) -> Iterator[str | StreamEnd]:
        kwargs = self._kwargs(params)
        kwargs["messages"] = [m.as_dict() for m in messages]
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        # Only opening the stream is retried: once text has been handed out, a retry would repeat it.
        stream = self._retrying(lambda: self.client.chat.completions.create(**kwargs))
        usage = Usage()
        finish: str | None = None
        pieces = 0
        try:
            for chunk in stream:
                if getattr(chunk, "usage", None):
                    usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice, "delta", None)
                    piece = getattr(delta, "content", None) if delta is not None else None
                    if piece:
                        pieces += 1
                        yield piece
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except Exception as exc:
            import openai

            if isinstance(exc, openai.APITimeoutError):
                raise ProviderTimeoutError(
                    f"{self.name}: stream stalled past the timeout", provider=self.name
                ) from None
            if isinstance(exc, (openai.APIError, json.JSONDecodeError)):
                raise MalformedResponseError(
                    f"{self.name}: broken stream: {exc}", provider=self.name
                ) from None
            raise
        if usage.completion_tokens == 0 and pieces:
            usage = Usage(usage.prompt_tokens, pieces)  # server sent no usage: one piece ≈ one token
        yield StreamEnd(usage, finish)

    def embed(self, texts: list[str], model: str | None = None) -> tuple[list[list[float]], Usage]:
        """Embeddings from ``/v1/embeddings`` (used by :class:`twinforge.ai.embeddings.OpenAIEmbedder`)."""

        def call() -> Any:
            response = self.client.embeddings.create(model=model or self.model, input=texts)
            data = getattr(response, "data", None)
            if not data or len(data) != len(texts):
                raise MalformedResponseError(
                    f"{self.name}: malformed embeddings response: expected {len(texts)} vectors, "
                    f"got {len(data) if data else 0}",
                    provider=self.name,
                    retryable=True,
                )
            return response

        response = self._retrying(call)
        ordered = sorted(response.data, key=lambda d: d.index)
        usage = getattr(response, "usage", None)
        return [list(d.embedding) for d in ordered], Usage(getattr(usage, "prompt_tokens", 0) or 0, 0)
