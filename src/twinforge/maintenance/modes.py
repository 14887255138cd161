"""Recurring failure modes: clusters of work orders that report the same kind of failure.

Only work orders that state a failure (a problem was extracted, or the class is not UNK/OTH) are
clustered. Their embeddings are grouped by average-linkage agglomerative clustering on cosine
distance, cut at ``distance`` (no number of clusters to choose); a cluster of at least
``min_size`` work orders is a recurring mode. Its label is its most frequent (part, problem) pair
when one is stated, else its top terms; ``terms`` are the words most over-represented in the
cluster against all failures (class-based TF-IDF), and ``fmc`` its most common ISO 14224 class.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd

_STOP = {
    "the", "and", "on", "at", "in", "to", "of", "off", "for", "left", "right", "front", "rear", "a",
    "is", "has", "been", "no", "not", "with", "from", "replace", "repair", "changeout", "change",
    "fit", "check", "new", "unit", "side", "machine",
}  # fmt: skip


def _tokens(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]{3,}", text) if w not in _STOP]


def top_terms(cluster_texts: list[str], all_counts: Counter[str], n_all: int, k: int = 4) -> list[str]:
    counts = Counter(w for t in cluster_texts for w in set(_tokens(t)))
    size = max(len(cluster_texts), 1)
    scored = {
        w: (c / size) * np.log(1 + n_all / (1 + all_counts[w]))
        for w, c in counts.items()
        if c >= 2 or size < 4
    }
    return [w for w, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def is_failure(problem: str, fmc: str) -> bool:
    return bool(problem) or fmc not in ("UNK", "OTH", "")


def cluster_failures(
    orders: pd.DataFrame,
    vectors: np.ndarray,
    *,
    distance: float = 0.35,
    min_size: int = 3,
    max_orders: int = 6000,
) -> tuple[pd.DataFrame, dict[int, int]]:
    """Cluster ``orders`` (rows with ``id, text, part, problem, fmc``; ``vectors`` aligned, unit
    rows). Returns the modes (``mode, label, size, fmc, terms``, largest first) and a map from
    work-order id to mode. Orders beyond ``max_orders`` (the newest kept) are not clustered."""
    from sklearn.cluster import AgglomerativeClustering

    from twinforge.maintenance.vocabulary import normalize

    empty = pd.DataFrame(columns=["mode", "label", "size", "fmc", "terms"])
    keep = np.array(
        [is_failure(p or "", f or "") for p, f in zip(orders["problem"], orders["fmc"], strict=True)]
    )
    if keep.sum() < max(min_size, 2):
        return empty, {}
    sub = orders[keep].reset_index(drop=True)
    vec = vectors[keep]
    if len(sub) > max_orders:
        sub, vec = sub.iloc[-max_orders:].reset_index(drop=True), vec[-max_orders:]
    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
    ).fit_predict(vec)
    texts = [normalize(t) for t in sub["text"]]
    all_counts: Counter[str] = Counter(w for t in texts for w in set(_tokens(t)))
    # clusters whose most common (part, problem) is the same are one mode
    merged: dict[str, list[int]] = {}
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        part_problem = Counter(
            (sub["part"][i], sub["problem"][i]) for i in members if sub["part"][i] and sub["problem"][i]
        )
        if part_problem:
            (part, problem), _ = part_problem.most_common(1)[0]
            key = f"{part}: {problem.replace('_', ' ')}"
        else:
            key = f"#{c}"
        merged.setdefault(key, []).extend(int(i) for i in members)
    groups = sorted(
        ((k, np.array(sorted(v))) for k, v in merged.items() if len(v) >= min_size),
        key=lambda kv: (-len(kv[1]), int(kv[1][0])),
    )
    rows, assignment = [], {}
    for mode, (key, members) in enumerate(groups, start=1):
        terms = top_terms([texts[i] for i in members], all_counts, len(texts))
        label = key if not key.startswith("#") else (" ".join(terms[:3]) or "unnamed")
        fmc = Counter(sub["fmc"][i] for i in members).most_common(1)[0][0]
        rows.append(
            {"mode": mode, "label": label, "size": len(members), "fmc": fmc, "terms": " ".join(terms)}
        )
        for i in members:
            assignment[int(sub["id"][i])] = mode
    return pd.DataFrame(rows), assignment
