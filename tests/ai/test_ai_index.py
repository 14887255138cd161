from __future__ import annotations

import numpy as np
import pytest

from twinforge.ai import AIError, VectorIndex


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_search_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    data, queries = unit(rng, 500, 32), unit(rng, 10, 32)
    index = VectorIndex(32, kind="exact")
    index.add([f"v{i}" for i in range(500)], data * 3.0)  # scaled: normalised on the way in
    for q, hits in zip(queries, index.search_many(queries, k=5), strict=True):
        truth = np.argsort(-(data @ q))[:5]
        assert [h.id for h in hits] == [f"v{i}" for i in truth]
        assert hits[0].score == pytest.approx(float(data[truth[0]] @ q), abs=1e-5)


def test_hnsw_recall_on_clustered_data() -> None:
    rng = np.random.default_rng(1)
    centres = unit(rng, 50, 64)
    data = centres[rng.integers(0, 50, 4000)] + 0.3 * rng.normal(size=(4000, 64)).astype(np.float32)
    queries = centres[rng.integers(0, 50, 50)] + 0.3 * rng.normal(size=(50, 64)).astype(np.float32)
    exact = VectorIndex(64, kind="exact")
    ann = VectorIndex(64, kind="hnsw")
    for idx in (exact, ann):
        idx.add(list(range(4000)), data)
    recall = np.mean(
        [
            len({h.id for h in a} & {h.id for h in e}) / 10
            for a, e in zip(ann.search_many(queries, 10), exact.search_many(queries, 10), strict=True)
        ]
    )
    assert recall >= 0.9
    ann.add([4000], queries[:1])  # added after the graph was built, still found
    assert ann.search(queries[0], k=1)[0].id == 4000


def test_auto_switches_to_hnsw_above_the_limit() -> None:
    index = VectorIndex(4, exact_limit=10)
    index.add(list(range(10)), np.eye(4, dtype=np.float32)[np.arange(10) % 4])
    assert not index.uses_hnsw
    index.add([10], np.ones((1, 4), dtype=np.float32))
    assert index.uses_hnsw and index.search(np.ones(4), k=1)[0].id == 10


def test_bad_input_is_refused() -> None:
    index = VectorIndex(3)
    with pytest.raises(AIError, match=r"shape \(n, 3\)"):
        index.add([1], np.zeros((1, 4)))
    index.add(["a"], np.ones((1, 3)))
    with pytest.raises(AIError, match="already in the index"):
        index.add(["a"], np.ones((1, 3)))
    with pytest.raises(AIError, match="2 ids for 1 vectors"):
        index.add(["b", "c"], np.ones((1, 3)))
    assert VectorIndex(3).search(np.ones(3)) == []
    assert len(index) == 1 and index.search(np.ones(3), k=10)[0].id == "a"
