"""The one small interface every LLM provider implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from twinforge.ai.types import Completion, GenerationParams, Message, Usage


@dataclass(frozen=True)
class StreamEnd:
    """Last event of a provider stream: the tokens spent and why generation stopped."""

    usage: Usage
    finish_reason: str | None


class LLMProvider(ABC):
    """A language model behind one interface: complete, complete under a JSON Schema, stream.

    Providers do transport only (and, for local models, constrained decoding). Validation,
    repairs, audit, cache and redaction live in :class:`twinforge.ai.LLM`, the same for all.
    """

    #: short provider name written to the audit log ("local", "openai").
    name: str = ""
    #: True when text never leaves the machine (no redaction needed).
    is_local: bool = False
    #: True when the provider can score continuations (log-probabilities of given texts), so
    #: that :meth:`rank` works; providers that cannot are asked to generate under a schema.
    can_rank: bool = False

    @property
    @abstractmethod
    def model(self) -> str:
        """Model identifier (a file name for local models, the API model name otherwise)."""

    @abstractmethod
    def complete(
        self,
        messages: list[Message],
        params: GenerationParams,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        """One completion; with ``json_schema`` the provider is asked for JSON following it.

        The schema is a hint as strong as the provider allows (grammar-constrained decoding
        locally, ``response_format`` or a forced tool call remotely); callers still validate.
        """

    @abstractmethod
    def stream(self, messages: list[Message], params: GenerationParams) -> Iterator[str | StreamEnd]:
        """Text pieces as they are generated, then one :class:`StreamEnd`."""

    def rank(self, messages: list[Message], schema: dict[str, Any], numbers: Any = ()) -> Any:
        """Decode ``schema`` after ``messages`` by ranking the continuations it allows (a
        :class:`twinforge.ai.ranked.RankedResult`). Only for providers with ``can_rank``."""
        raise NotImplementedError(f"provider {self.name!r} cannot score continuations")

    def describe(self) -> dict[str, Any]:
        """Facts for ``twinforge llm check`` (model file, endpoint, ...)."""
        return {"provider": self.name, "model": self.model}
