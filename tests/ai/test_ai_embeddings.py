"""Local embeddings (all-MiniLM-L6-v2 int8, onnxruntime) against the float PyTorch model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinforge.ai import AIError, LocalOnnxEmbedder, TextIndex, embed, get_embedder, reset_defaults
from twinforge.config import load_settings

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def embedder() -> LocalOnnxEmbedder:
    return LocalOnnxEmbedder()


def sentences() -> list[str]:
    return (DATA / "embedding_sentences.txt").read_text(encoding="utf-8").split("\n")[:-1]


def test_int8_model_agrees_with_the_float_model(embedder: LocalOnnxEmbedder) -> None:
    """Reference: sentence-transformers + torch 2.13 (float32) on the same 120 sentences,
    made once in a scratch environment (see docs/ai.md)."""
    texts = sentences()
    reference = np.load(DATA / "minilm_float_reference.npy")
    assert reference.shape == (120, 384) and len(texts) == 120
    vectors = embedder.embed(texts)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() > 0.99
    assert cosine.mean() > 0.999
    # neighbourhoods are the same: nearest other sentence by int8 and by float
    own, ref = vectors @ vectors.T, reference @ reference.T
    np.fill_diagonal(own, -1)
    np.fill_diagonal(ref, -1)
    assert (own.argmax(axis=1) == ref.argmax(axis=1)).mean() >= 0.97


def test_vectors_are_unit_float32_and_order_independent(embedder: LocalOnnxEmbedder) -> None:
    texts = ["pump bearing replaced", "", "a much longer sentence " * 80, "valve leak"]
    v = embedder.embed(texts)
    assert v.shape == (4, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    reversed_v = embedder.embed(texts[::-1])[::-1]
    assert np.allclose(v, reversed_v, atol=1e-5)  # batching by length does not change vectors
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.embed("one text").shape == (1, 384)
    with pytest.raises(AIError, match=r"text \[1\] must be a string"):
        embedder.embed(["ok", 3])  # type: ignore[list-item]


def test_semantics(embedder: LocalOnnxEmbedder) -> None:
    a, b, c = embedder.embed(
        [
            "The pump bearing was replaced after high vibration.",
            "Technician swapped the worn bearing on the pump because it vibrated.",
            "Quarterly sales grew in the European market.",
        ]
    )
    assert a @ b > 0.6 > a @ c


def test_text_index_and_audit(tmp_path: Path, isolated: Path) -> None:
    settings = load_settings(None, store={"path": tmp_path / "store.duckdb"})
    reset_defaults()
    index = TextIndex(get_embedder(settings))
    logs = [
        "Replaced mechanical seal on P-101 after leak",
        "Conveyor belt slipping at the capper",
        "Recalibrated pressure transmitter PT-3",
        "Lubricated gearbox of the mixer",
    ]
    index.add(
        list(range(len(logs))), logs, payloads=[{"asset": a} for a in ("P-101", "capper", "PT-3", "mixer")]
    )
    hits = index.search("the pump seal is leaking", k=2)
    assert hits[0].id == 0 and hits[0].payload == {"asset": "P-101"} and hits[0].score > hits[1].score
    assert embed(["x"], settings=settings).shape == (1, 384)
    log = get_embedder(settings).audit
    assert log.count(kind="embed") == 3  # add, search, embed
    assert not log.entries()[0].redacted  # local: text never left the machine
    reset_defaults()
