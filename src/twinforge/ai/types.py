"""Plain data types shared by providers and callers: messages, parameters, usage, results."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


MessageLike = Message | Mapping[str, str]
PromptLike = str | Sequence[MessageLike]


def to_messages(prompt: PromptLike, system: str | None = None) -> list[Message]:
    """Normalise a prompt (a string, or messages as objects or dicts) to a list of :class:`Message`."""
    if isinstance(prompt, str):
        messages = [Message("user", prompt)]
    else:
        messages = []
        for i, m in enumerate(prompt):
            if isinstance(m, Message):
                messages.append(m)
                continue
            role, content = m.get("role"), m.get("content")
            if role not in ("system", "user", "assistant") or not isinstance(content, str):
                from twinforge.ai.errors import AIError

                raise AIError(
                    f"message [{i}] must have role system/user/assistant and text content; found {dict(m)!r}"
                )
            messages.append(Message(role, content))  # type: ignore[arg-type]
    if system is not None:
        messages = [Message("system", system), *[m for m in messages if m.role != "system"]]
    return messages


@dataclass(frozen=True)
class GenerationParams:
    """Decoding parameters. ``temperature=0`` with a fixed ``seed`` makes local calls reproducible."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    stop: tuple[str, ...] = ()

    def with_(self, **changes: Any) -> GenerationParams:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class Usage:
    """Tokens spent. ``None`` counts mean the provider did not report them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens
        )


@dataclass(frozen=True)
class Completion:
    """One answer of a model."""

    text: str
    provider: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    finish_reason: str | None = None
    cached: bool = False

    @property
    def tokens_per_s(self) -> float:
        return self.usage.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0


@dataclass(frozen=True)
class Attempt:
    """One try of a structured call: what the model wrote and why it was (not) accepted."""

    number: int
    text: str
    error: str | None
    usage: Usage
    latency_s: float
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class StructuredMeta:
    """How a structured result was obtained: every attempt, the tokens and time spent in total."""

    provider: str
    model: str
    attempts: list[Attempt]
    usage: Usage
    latency_s: float

    @property
    def repairs(self) -> int:
        return len(self.attempts) - 1

    @property
    def cached(self) -> bool:
        return all(a.cached for a in self.attempts)


class Structured(NamedTuple):
    """Result of :func:`twinforge.ai.generate_structured`: ``value, meta = ...`` unpacks it."""

    value: Any
    meta: StructuredMeta


class ChatStream:
    """Iterate to receive text pieces as they are generated; ``completion`` is set once exhausted."""

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], Completion]):
        self._pieces = pieces
        self._finish = finish
        self._text: list[str] = []
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        failed = False
        try:
            for piece in self._pieces:
                self._text.append(piece)
                yield piece
        except Exception:
            failed = True  # the provider error was audited where it was raised
            raise
        finally:
            # also when the consumer stops early: close the provider stream (a local model is
            # locked while it streams) and still account for what was generated
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()
            if self.completion is None and not failed:
                self.completion = self._finish("".join(self._text))

    def text(self) -> str:
        """Consume the whole stream and return the full text."""
        for _ in self:
            pass
        assert self.completion is not None
        return self.completion.text
