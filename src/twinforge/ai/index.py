"""Similarity search over unit vectors: exact (numpy) for small sets, HNSW (usearch) for large ones.

``VectorIndex(kind="auto")`` searches exactly up to :data:`EXACT_LIMIT` vectors — a matrix-vector
product, never wrong, about 12 ms per query over 20 000 × 384 on one shared core here, and no
build time — and builds an HNSW graph with usearch above that (13 s to build over 20 000 × 384,
then ~0.4 ms per query at recall@10 = 1.0 on clustered data). DuckDB's ``vss`` extension was considered: extensions cannot be
downloaded at run time here, and the ``duckdb-extension-vss`` package on PyPI (1.5.5) is built for
another DuckDB version than the pinned one (2.0), so it cannot be loaded. Recall and speed of
both paths are measured in ``benchmarks/llm.py``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.ai.errors import AIError

EXACT_LIMIT = 50_000


@dataclass(frozen=True)
class Hit:
    """One search result: the id given at :meth:`VectorIndex.add`, cosine similarity, and payload."""

    id: Hashable
    score: float
    payload: Any = None


class VectorIndex:
    """Cosine-similarity index. Vectors are normalised on the way in; ids are any hashable values."""

    def __init__(
        self,
        dim: int,
        *,
        kind: str = "auto",
        exact_limit: int = EXACT_LIMIT,
        connectivity: int = 16,
        expansion_search: int = 64,
    ):
        if kind not in ("auto", "exact", "hnsw"):
            raise AIError(f"index kind must be auto, exact or hnsw; found {kind!r}")
        self.dim = dim
        self.kind = kind
        self.exact_limit = exact_limit
        self.connectivity = connectivity
        self.expansion_search = expansion_search
        self._ids: list[Hashable] = []
        self._payloads: list[Any] = []
        self._position: dict[Hashable, int] = {}
        self._chunks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self._hnsw: Any = None
        self._hnsw_size = 0

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def uses_hnsw(self) -> bool:
        return self.kind == "hnsw" or (self.kind == "auto" and len(self) > self.exact_limit)

    def add(
        self, ids: Sequence[Hashable], vectors: np.ndarray, payloads: Sequence[Any] | None = None
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise AIError(f"vectors must have shape (n, {self.dim}); found {vectors.shape}")
        if len(ids) != len(vectors):
            raise AIError(f"{len(ids)} ids for {len(vectors)} vectors")
        if payloads is not None and len(payloads) != len(ids):
            raise AIError(f"{len(payloads)} payloads for {len(ids)} ids")
        for i in ids:
            if i in self._position:
                raise AIError(f"id {i!r} is already in the index")
        if len(set(ids)) != len(ids):
            raise AIError("ids given to add() repeat")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        for i in ids:
            self._position[i] = len(self._ids)
            self._ids.append(i)
        self._payloads += list(payloads) if payloads is not None else [None] * len(ids)
        self._chunks.append(vectors)
        self._matrix = None

    def matrix(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = (
                np.concatenate(self._chunks, axis=0) if self._chunks else np.zeros((0, self.dim), np.float32)
            )
            self._chunks = [self._matrix] if len(self._matrix) else []
        return self._matrix

    def search(self, query: np.ndarray, k: int = 5) -> list[Hit]:
        """The ``k`` nearest vectors to ``query`` (one vector), best first."""
        return self.search_many(np.asarray(query, dtype=np.float32).reshape(1, -1), k)[0]

    def search_many(self, queries: np.ndarray, k: int = 5) -> list[list[Hit]]:
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise AIError(f"queries must have shape (n, {self.dim}); found {queries.shape}")
        if len(self) == 0 or k <= 0:
            return [[] for _ in queries]
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        k = min(k, len(self))
        if self.uses_hnsw:
            return self._search_hnsw(queries, k)
        scores = queries @ self.matrix().T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        results = []
        for row, cand in zip(scores, top, strict=True):
            best = cand[np.argsort(-row[cand])]
            results.append([Hit(self._ids[j], float(row[j]), self._payloads[j]) for j in best])
        return results

    def _search_hnsw(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        from usearch.index import Index

        if self._hnsw is None:
            self._hnsw = Index(
                ndim=self.dim,
                metric="cos",
                dtype="f32",
                connectivity=self.connectivity,
                expansion_search=self.expansion_search,
            )
        matrix = self.matrix()
        if self._hnsw_size < len(matrix):  # add what came since the last search
            keys = np.arange(self._hnsw_size, len(matrix), dtype=np.uint64)
            self._hnsw.add(keys, matrix[self._hnsw_size :], threads=1)
            self._hnsw_size = len(matrix)
        matches = self._hnsw.search(queries, k, threads=1)
        keys = np.asarray(matches.keys).reshape(len(queries), -1)
        distances = np.asarray(matches.distances).reshape(len(queries), -1)
        counts = (
            np.asarray(matches.counts).reshape(-1)
            if hasattr(matches, "counts")
            else [keys.shape[1]] * len(queries)
        )
        results = []
        for row_keys, row_dist, n in zip(keys, distances, counts, strict=True):
            results.append(
                [
                    Hit(self._ids[int(j)], float(1.0 - d), self._payloads[int(j)])
                    for j, d in zip(row_keys[: int(n)], row_dist[: int(n)], strict=True)
                ]
            )
        return results


class TextIndex:
    """A :class:`VectorIndex` that embeds texts itself: ``add(ids, texts)``, ``search("query")``."""

    def __init__(self, embedder: Any = None, **index_options: Any):
        if embedder is None:
            from twinforge.ai import get_embedder

            embedder = get_embedder()
        self.embedder = embedder
        self.index = VectorIndex(embedder.dim, **index_options)
        self.texts: dict[Hashable, str] = {}

    def __len__(self) -> int:
        return len(self.index)

    def add(
        self, ids: Sequence[Hashable], texts: Sequence[str], payloads: Sequence[Any] | None = None
    ) -> None:
        if len(ids) != len(texts):
            raise AIError(f"{len(ids)} ids for {len(texts)} texts")
        self.index.add(ids, self.embedder.embed(list(texts)), payloads)
        self.texts.update(zip(ids, texts, strict=True))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.index.search(self.embedder.embed([query])[0], k)
