"""Benchmark of ``twinforge build``: plain-language descriptions → twins, scored against references.

A folder holds descriptions (``*.txt`` paragraphs or lists, ``*.csv`` tables) and same-named
``*.yaml`` reference twins. For each description the builder (``twinforge.build.build_twin``, the
local model allowed to choose between readings) and a baseline (one node per line, kind from the
first kind word, chained in order, no parameters) build a twin, and each is scored:

- valid: the twin validates (``validate_spec``, no errors);
- runs: it simulates one replication (lines, liquid systems) or its flow plan solves (networks);
- node F1: nodes matched one-to-one (Hungarian assignment) between kinds that agree, by name
  similarity (token overlap of ids and names, or difflib ratio) ≥ 0.5, or, failing that, by the
  same rank among nodes of that kind in the written order;
- edge F1: edges between matched nodes, direction counted;
- param acc: share of the reference's parameter values (nodes and matched edges) the built twin
  has within 5 % in a compatible unit (converted);
- p95 s: 95th percentile of build seconds per description (smoke run included).

``--set dev`` scores ``benchmarks/build/dev``; ``--set eval`` (default) scores the blind set
``benchmarks/build/eval`` only after checking every file against its ``SHA256SUMS``.
Last line: ``build valid=<%> node_f1= edge_f1= param_acc= p95_s=``.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._record import add_record_flag, checksum_mismatches, markdown_table, record
from twinforge.build import BuildError, build_twin, smoke_run
from twinforge.build.describe import read_description
from twinforge.build.kinds import KIND_WORDS, light, slug, tokens
from twinforge.errors import TwinforgeError, UnitError
from twinforge.spec import load_spec, units
from twinforge.spec.models import Edge, Node, TwinSpec
from twinforge.spec.validate import validate_spec

ROOT = Path(__file__).resolve().parent / "build"


# -- baseline ---------------------------------------------------------------------------------


def baseline_twin(text: str, fmt: str | None, name: str) -> TwinSpec:
    """One node per line (CSV row, list line or sentence), kind from its first kind word, chained
    in order, no parameters."""
    desc = read_description(text, fmt, name)
    nodes: list[Node] = []
    for item in desc.items:
        words = [light(t.low) for t in tokens(item.text)]
        kind = next((KIND_WORDS[w] for w in words if w in KIND_WORDS), None)
        if kind is None:
            continue
        first = " ".join(t.text for t in tokens(item.text)[:2] if t.text[0].isalnum())
        nid, n = slug(first), 2
        while any(x.id == nid for x in nodes):
            nid, n = f"{slug(first)}_{n}", n + 1
        nodes.append(Node(id=nid, kind=kind, name=first))
    edges = [Edge(source=a.id, target=b.id) for a, b in itertools.pairwise(nodes)]
    return TwinSpec(name=name, nodes=nodes, edges=edges)


# -- scoring ----------------------------------------------------------------------------------


def _words(n: Node) -> set[str]:
    text = f"{n.id} {n.name or ''}".lower()
    return {light(w) for w in re.split(r"[^a-z0-9]+", text) if w}


def name_similarity(a: Node, b: Node) -> float:
    wa, wb = _words(a), _words(b)
    overlap = len(wa & wb) / min(len(wa), len(wb)) if wa and wb else 0.0
    ratio = max(
        difflib.SequenceMatcher(None, x.lower(), y.lower()).ratio()
        for x in (a.id, a.name or a.id)
        for y in (b.id, b.name or b.id)
    )
    return max(overlap, ratio)


def match_nodes(pred: TwinSpec, ref: TwinSpec) -> dict[str, str]:
    """Predicted node id -> reference node id."""
    if not pred.nodes or not ref.nodes:
        return {}

    def rank(t: TwinSpec, n: Node) -> int:
        return [x.id for x in t.nodes if x.kind == n.kind].index(n.id)

    score = np.zeros((len(pred.nodes), len(ref.nodes)))
    ok = np.zeros_like(score, dtype=bool)
    for i, p in enumerate(pred.nodes):
        for j, r in enumerate(ref.nodes):
            if p.kind != r.kind:
                continue
            sim = name_similarity(p, r)
            same_rank = rank(pred, p) == rank(ref, r)
            ok[i, j] = sim >= 0.5 or same_rank
            score[i, j] = sim + (0.25 if same_rank else 0.0) if ok[i, j] else 0.0
    rows, cols = linear_sum_assignment(-score)
    return {pred.nodes[i].id: ref.nodes[j].id for i, j in zip(rows, cols, strict=True) if ok[i, j]}


def f1(tp: int, n_pred: int, n_ref: int) -> float:
    if n_pred == 0 and n_ref == 0:
        return 1.0
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_ref if n_ref else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _param_ok(pred: TwinSpec, pel: Node | Edge, ref: TwinSpec, rel: Node | Edge, name: str) -> bool:
    rp, pp = rel.parameters[name], pel.parameters.get(name)
    if pp is None or rp.nominal is None or pp.nominal is None:
        return False
    pdef = rel.param_def(name)
    cat = pdef.unit_for(ref.currency) if pdef else None
    try:
        a = units.convert(pp.nominal, pp.unit or cat, cat or pp.unit)
        b = units.convert(rp.nominal, rp.unit or cat, cat or rp.unit)
    except UnitError:
        return False
    return abs(a - b) <= 0.05 * max(abs(b), 1e-12)


def score(pred: TwinSpec | None, ref: TwinSpec) -> dict[str, float]:
    if pred is None:
        n_params = sum(len(n.parameters) for n in ref.nodes) + sum(len(e.parameters) for e in ref.edges)
        return {"valid": 0.0, "runs": 0.0, "node_f1": 0.0, "edge_f1": 0.0, "param_ok": 0, "param_n": n_params}
    valid = not any(i.severity == "error" for i in validate_spec(pred))
    runs = False
    if valid:
        try:
            runs = smoke_run(pred).ok
        except TwinforgeError:
            runs = False
    m = match_nodes(pred, ref)
    pe = {(m.get(e.source), m.get(e.target)) for e in pred.edges}
    re_ = {(e.source, e.target) for e in ref.edges}
    tp_edges = len(pe & re_)
    ok = n = 0
    back = {v: k for k, v in m.items()}
    for r in ref.nodes:
        for name in r.parameters:
            n += 1
            if r.id in back:
                ok += _param_ok(pred, pred.node(back[r.id]), ref, r, name)
    for e in ref.edges:
        for name in e.parameters:
            n += 1
            a, b = back.get(e.source), back.get(e.target)
            found = [x for x in pred.edges if x.source == a and x.target == b]
            if found:
                ok += _param_ok(pred, found[0], ref, e, name)
    return {
        "valid": float(valid),
        "runs": float(runs),
        "node_f1": f1(len(m), len(pred.nodes), len(ref.nodes)),
        "edge_f1": f1(tp_edges, len(pred.edges), len(ref.edges)),
        "param_ok": ok,
        "param_n": n,
    }


# -- run --------------------------------------------------------------------------------------


def verify(folder: Path, files: list[Path]) -> None:
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise SystemExit(f"{folder}: no SHA256SUMS; refusing to score a set that is not frozen")
    changed = checksum_mismatches(sums, folder)
    if changed:
        raise SystemExit(f"{folder.name}/{changed[0]}: does not match SHA256SUMS; refusing to score")
    listed = {
        line.split(maxsplit=1)[1].strip().lstrip("*")
        for line in sums.read_text().splitlines()
        if line.strip()
    }
    unlisted = [f.name for f in files if f.name not in listed]
    if unlisted:
        raise SystemExit(f"{folder.name}/{unlisted[0]}: not in SHA256SUMS; refusing to score")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--set", default="eval", choices=["eval", "dev"], help="which set to score (default eval)"
    )
    ap.add_argument("--no-model", action="store_true", help="never ask the local model")
    ap.add_argument("--show", action="store_true", help="print each description's scores")
    add_record_flag(ap)
    args = ap.parse_args()
    folder = ROOT / args.set
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such set")
    descs = sorted(p for p in folder.iterdir() if p.suffix in (".txt", ".csv"))
    refs = [p.with_suffix(".yaml") for p in descs]
    if args.set == "eval":
        verify(folder, descs + [r for r in refs if r.exists()])
    missing = [r.name for r in refs if not r.exists()]
    if missing:
        raise SystemExit(f"{folder.name}/{missing[0]}: reference twin missing")

    llm = None
    if not args.no_model:

        def llm():
            from twinforge.ai import get_llm

            return get_llm()

    rows_ours, rows_base, seconds = [], [], []
    for d, r in zip(descs, refs, strict=True):
        ref = load_spec(r)
        text = d.read_text(encoding="utf-8")
        fmt = "csv" if d.suffix == ".csv" else None
        started = time.perf_counter()
        try:
            res = build_twin(text, fmt=fmt, name=d.stem, source=d.name, llm=llm, smoke=True)
            ours = res.twin
        except BuildError:
            ours = None
        seconds.append(time.perf_counter() - started)
        try:
            base = baseline_twin(text, fmt, d.stem)
        except TwinforgeError:
            base = None
        so, sb = score(ours, ref), score(base, ref)
        rows_ours.append(so)
        rows_base.append(sb)
        if args.show:
            print(f"{d.name}: ours {so} | baseline {sb}")

    def agg(rows: list[dict[str, float]]) -> dict[str, float]:
        n_ok = sum(r["param_ok"] for r in rows)
        n_all = sum(r["param_n"] for r in rows)
        return {
            "valid": float(np.mean([r["valid"] for r in rows])),
            "runs": float(np.mean([r["runs"] for r in rows])),
            "node_f1": float(np.mean([r["node_f1"] for r in rows])),
            "edge_f1": float(np.mean([r["edge_f1"] for r in rows])),
            "param_acc": n_ok / n_all if n_all else 0.0,
        }

    a, b = agg(rows_ours), agg(rows_base)
    p95 = float(np.percentile(seconds, 95))
    keys = ["valid", "runs", "node_f1", "edge_f1", "param_acc"]
    headers = ["builder", "descriptions", *keys, "p95 s"]

    def ratio(x: float, y: float) -> str:
        return f"{x / y:.2f}" if y > 0 else ("inf" if x > 0 else "–")

    table = [
        ["twinforge build", len(descs), *[f"{a[k]:.3f}" for k in keys], f"{p95:.2f}"],
        ["baseline (line per node, chained, no parameters)", len(descs), *[f"{b[k]:.3f}" for k in keys], "–"],
        ["ratio", "", *[ratio(a[k], b[k]) for k in keys], ""],
    ]
    md = markdown_table(headers, table)
    print(md)
    body = (
        f"Set `{args.set}` ({len(descs)} descriptions: "
        f"{sum(d.suffix == '.txt' for d in descs)} text, {sum(d.suffix == '.csv' for d in descs)} CSV), "
        + (
            "frozen by SHA256SUMS and written by another author; not seen during development. "
            if args.set == "eval"
            else "written by the builder's author while developing it (not held out). "
        )
        + "Scores as in the docstring of `benchmarks/build.py`: node F1 after a Hungarian matching of nodes whose kinds "
        "agree (name similarity ≥ 0.5 or the same rank among nodes of the kind), edge F1 with direction, "
        "parameter accuracy within 5 % after unit conversion; the baseline is one node per line with the kind of its "
        "first kind word, chained in order, without parameters.\n\n" + md
    )
    record(
        f"build_{args.set}",
        f"twinforge build: descriptions to twins ({args.set} set)",
        body,
        rerun=f"python benchmarks/build.py --set {args.set} --record",
    )
    print(
        f"build valid={a['valid']:.0%} node_f1={a['node_f1']:.3f} edge_f1={a['edge_f1']:.3f} "
        f"param_acc={a['param_acc']:.3f} p95_s={p95:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
