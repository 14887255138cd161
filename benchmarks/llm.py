"""Gen-AI runtime benchmark: local generation speed, structured-call latency (llguidance vs llama.cpp
GBNF), embedding throughput and fidelity, vector search (exact numpy vs usearch HNSW).

Last line: ``llm tok_s=<x> p95_s=<y> emb_s=<z>``. Run under the shared lock:
``flock /tmp/twinforge-bench.lock .venv/bin/python benchmarks/llm.py`` (``--record``: write its section
of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import jsonschema
import numpy as np

# this file is called llm.py: keep its folder off the path so `import llm` finds the real package
sys.path[0] = str(Path(__file__).resolve().parents[1])
from benchmarks._record import add_record_flag, markdown_table, record  # noqa: E402
from twinforge.ai import LLM, LocalOnnxEmbedder, StructuredOutputError, VectorIndex  # noqa: E402
from twinforge.config import load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "ai" / "data"

#: maintenance-log lines and the facts a correct extraction holds (part: a word it must contain)
LOG_LINES = [
    (
        "Technician John Miller replaced the bearing on P-101 in 2.5 hours.",
        {"asset": "P-101", "action": "replace", "part": "bearing", "hours": 2.5},
    ),
    (
        "Operator inspected V-7 for 0.5 h, no leak found.",
        {"asset": "V-7", "action": "inspect", "part": "", "hours": 0.5},
    ),
    (
        "Lubricated the gearbox of P-102, took 1 hour.",
        {"asset": "P-102", "action": "lubricate", "part": "gearbox", "hours": 1},
    ),
    (
        "Recalibrated the pressure sensor on P-101 in 3 hours after drift.",
        {"asset": "P-101", "action": "calibrate", "part": "sensor", "hours": 3},
    ),
    (
        "Night crew replaced the mechanical seal on P-102, 4.5 hours of work.",
        {"asset": "P-102", "action": "replace", "part": "seal", "hours": 4.5},
    ),
    (
        "Inspected V-7 actuator after alarm, 2 hours.",
        {"asset": "V-7", "action": "inspect", "part": "actuator", "hours": 2},
    ),
]
EXAMPLE = (
    "Operator Jane Doe lubricated the gearbox on V-7 in 0.5 hours, WO-2024-00077",
    {"asset": "V-7", "action": "lubricate", "part": "gearbox", "hours": 0.5},
)
WORK_SCHEMA = {
    "type": "object",
    "properties": {
        "asset": {"enum": ["P-101", "P-102", "V-7"]},
        "action": {"enum": ["replace", "inspect", "lubricate", "calibrate"]},
        "part": {"type": "string", "maxLength": 30},
        "hours": {"type": "number", "minimum": 0, "maximum": 24},
    },
    "required": ["asset", "action", "part", "hours"],
}
BOUNDED = [
    (
        {
            "type": "object",
            "properties": {"count": {"type": "integer", "minimum": 3, "maximum": 17}},
            "required": ["count"],
        },
        "We replaced 25 bolts.",
    ),
    (
        {
            "type": "object",
            "properties": {"vibration": {"type": "number", "minimum": 0, "maximum": 5}},
            "required": ["vibration"],
        },
        "Vibration reached 7.1 mm/s.",
    ),
    (
        {
            "type": "object",
            "properties": {"temp": {"type": "number", "minimum": -40, "maximum": -10}},
            "required": ["temp"],
        },
        "The freezer read 12 degrees.",
    ),
    (
        {
            "type": "object",
            "properties": {"downtime": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}},
            "required": ["downtime"],
        },
        "The line stopped for 3 hours.",
    ),
]
PROMPTS = [
    "Explain in three sentences why pumps cavitate.",
    "List four causes of conveyor belt slip.",
    "Describe preventive maintenance for a bottling line.",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def facts_right(value: dict, expected: dict) -> int:
    right = sum(value.get(k) == expected[k] for k in ("asset", "action", "hours"))
    return right + (expected["part"].lower() in str(value.get("part", "")).lower())


def structured_run(llm: LLM, examples: list | None = None) -> dict[str, object]:
    latencies: list[float] = []
    valid = first_try = failed = facts = 0
    cases = [(WORK_SCHEMA, line, expected) for line, expected in LOG_LINES]
    cases += [(schema, prompt, None) for schema, prompt in BOUNDED]
    for schema, prompt, expected in cases:
        start = time.perf_counter()
        try:
            shots = examples if schema is WORK_SCHEMA else None  # the example fits the extraction schema
            value, meta = llm.generate_structured(prompt, schema, examples=shots, cache=False, max_tokens=96)
        except StructuredOutputError:
            failed += 1
            latencies.append(time.perf_counter() - start)
            continue
        latencies.append(time.perf_counter() - start)
        jsonschema.validate(value, schema)
        valid += 1
        first_try += len(meta.attempts) == 1
        if expected is not None:
            facts += facts_right(value, expected)
    return {
        "n": len(cases),
        "valid": valid,
        "first_try": first_try,
        "failed": failed,
        "facts": f"{facts}/{4 * len(LOG_LINES)}",
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_record_flag(parser)
    parser.parse_args()
    store = Path(tempfile.mkdtemp()) / "bench.duckdb"
    settings = load_settings(None, store={"path": store})
    rows: list[list[object]] = []

    # -- model load and free generation --------------------------------------------------------
    start = time.perf_counter()
    llm = LLM.from_settings(settings)
    llm.provider.loaded()
    load_s = time.perf_counter() - start
    llm.chat("Hi", max_tokens=4, cache=False)  # warm-up
    tokens = 0
    gen_s = 0.0
    for prompt in PROMPTS:
        c = llm.chat(prompt, max_tokens=128, cache=False)
        tokens += c.usage.completion_tokens
        gen_s += c.latency_s
    tok_s = tokens / gen_s
    rows.append(["model load (SmolLM2-135M Q4_1)", f"{load_s:.2f} s", ""])
    rows.append(["free generation", f"{tok_s:.1f} tokens/s", f"{tokens} tokens over {len(PROMPTS)} prompts"])

    # -- structured calls: llguidance vs GBNF ----------------------------------------------------
    llg = structured_run(llm)
    llg_shot = structured_run(llm, examples=[EXAMPLE])
    gbnf_llm = LLM.from_settings(load_settings(None, store={"path": store}, llm={"grammar_backend": "gbnf"}))
    gbnf = structured_run(gbnf_llm)
    structured_rows = []
    for name, r in (
        ("llguidance (default)", llg),
        ("llguidance + 1 few-shot example", llg_shot),
        ("llama.cpp GBNF (baseline)", gbnf),
    ):
        structured_rows.append(
            [
                name,
                r["n"],
                r["valid"],
                r["first_try"],
                r["failed"],
                r["facts"],
                f"{r['p50']:.2f}",
                f"{r['p95']:.2f}",
            ]
        )
    p95 = float(llg["p95"])
    rows.append(
        [
            "structured call (llguidance)",
            f"p50 {llg['p50']:.2f} s, p95 {p95:.2f} s",
            f"{llg['valid']}/{llg['n']} valid, {llg['first_try']} on first try; baseline GBNF: "
            f"{gbnf['valid']}/{gbnf['n']} valid, p95 ratio llguidance/GBNF {p95 / float(gbnf['p95']):.2f}",
        ]
    )

    # -- embeddings ------------------------------------------------------------------------------
    embedder = LocalOnnxEmbedder()
    sentences = (DATA / "embedding_sentences.txt").read_text(encoding="utf-8").split("\n")[:-1]
    embedder.embed(sentences[:8])  # warm-up
    repeats = 4
    start = time.perf_counter()
    for _ in range(repeats):
        vectors = embedder.embed(sentences)
    emb_s = repeats * len(sentences) / (time.perf_counter() - start)
    reference = np.load(DATA / "minilm_float_reference.npy")
    cosine = (vectors * reference).sum(axis=1)
    rows.append(
        [
            "embeddings (MiniLM int8, onnxruntime)",
            f"{emb_s:.0f} texts/s",
            f"cosine vs float: mean {cosine.mean():.5f}, min {cosine.min():.4f}",
        ]
    )

    # -- vector search -------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    n, dim = 20_000, 384
    centres = rng.normal(size=(200, dim)).astype(np.float32)
    data = centres[rng.integers(0, 200, n)] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    queries = centres[rng.integers(0, 200, 200)] + 0.5 * rng.normal(size=(200, dim)).astype(np.float32)
    index_rows = []
    results = {}
    for kind in ("exact", "hnsw"):
        idx = VectorIndex(dim, kind=kind)
        start = time.perf_counter()
        idx.add(list(range(n)), data)
        idx.search(queries[0], 10)  # builds the graph for hnsw
        build = time.perf_counter() - start
        start = time.perf_counter()
        results[kind] = [[h.id for h in hits] for hits in (idx.search(q, 10) for q in queries)]
        qps = len(queries) / (time.perf_counter() - start)
        index_rows.append([kind, n, f"{build:.2f}", f"{qps:.0f}"])
    recall = np.mean(
        [len(set(a) & set(e)) / 10 for a, e in zip(results["hnsw"], results["exact"], strict=True)]
    )
    index_rows[0].append("1.000 (reference)")
    index_rows[1].append(f"{recall:.3f}")
    speedup = float(index_rows[1][3]) / float(index_rows[0][3])
    rows.append(
        [f"vector search {n} × {dim}, HNSW vs exact", f"{speedup:.1f}× queries/s", f"recall@10 {recall:.3f}"]
    )

    table = markdown_table(["measure", "value", "notes"], rows)
    structured = markdown_table(
        [
            "grammar engine",
            "calls",
            "valid",
            "first try",
            "failed",
            "facts right (extractions)",
            "p50 s",
            "p95 s",
        ],
        structured_rows,
    )
    search = markdown_table(
        ["index", "vectors", "build s", "queries/s (1 at a time)", "recall@10"], index_rows
    )
    print(table)
    print()
    print(structured)
    print()
    print(search)
    body = (
        f"{table}\n\nStructured calls ({llg['n']} per engine: {len(LOG_LINES)} maintenance-log extractions and "
        f"{len(BOUNDED)} prompts whose stated number lies outside the schema's bounds), SmolLM2-135M, "
        f"temperature 0, up to 2 repairs. Facts right: asset, action, hours and part of the "
        f"{len(LOG_LINES)} extractions compared with what the lines say:\n\n{structured}\n\n"
        f"Vector search, {n} clustered vectors of {dim} dimensions, 200 queries, k=10:\n\n{search}\n\n"
        "Embedding fidelity is against sentence-transformers + torch 2.13 (float32) on the same 120 "
        "sentences, computed once in a scratch environment (`tests/ai/data/minilm_float_reference.npy`)."
    )
    record("llm", "Gen-AI runtime (twinforge.ai)", body)
    print(f"llm tok_s={tok_s:.1f} p95_s={p95:.2f} emb_s={emb_s:.0f}")


if __name__ == "__main__":
    main()
