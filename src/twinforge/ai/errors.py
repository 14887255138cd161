"""Typed errors of the Gen-AI runtime. All subclass :class:`twinforge.errors.TwinforgeError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinforge.errors import TwinforgeError

if TYPE_CHECKING:
    from twinforge.ai.types import Attempt


class AIError(TwinforgeError):
    """Base class of the errors raised by :mod:`twinforge.ai`."""


class ModelNotFoundError(AIError):
    """A configured model file or package is not there."""


class SchemaError(AIError):
    """The JSON Schema given for structured output is itself invalid or unsupported."""


class ProviderError(AIError):
    """A provider call failed (HTTP error, refused connection, crash of the runtime).

    ``retryable`` says whether the same request may succeed later; ``attempts`` is how many
    requests were sent before giving up.
    """

    def __init__(self, message: str, *, provider: str = "", retryable: bool = False, attempts: int = 1):
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable
        self.attempts = attempts


class ContextLengthError(ProviderError):
    """The prompt, with the tokens asked for, does not fit in the model's context window (a
    25 kB question to a 4096-token local model). Not retryable: shorten the prompt or raise the
    context length."""


class ProviderTimeoutError(ProviderError):
    """The provider did not answer within the configured timeout (after all retries)."""


class MalformedResponseError(ProviderError):
    """The provider answered, but not with a well-formed completion (missing choices, bad JSON...)."""


class StructuredOutputError(AIError):
    """The model did not produce an object that validates against the schema, within the repairs allowed.

    ``attempts`` holds every attempt: the raw text, the validation error and the tokens spent.
    """

    def __init__(self, message: str, attempts: list[Attempt]):
        lines = [message]
        for a in attempts:
            lines.append(f"  attempt {a.number}: {a.error}")
        super().__init__("\n".join(lines))
        self.attempts = attempts


class AuditError(AIError):
    """The audit log could not be written (the call's result is withheld: nothing runs unaudited)."""
