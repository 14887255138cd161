"""Does the guard catch unsafe, broken and malicious control proposals, without rejecting safe ones?

Runs ``twinforge guard`` (:func:`twinforge.control.judge`) on every proposal of the frozen set in
``benchmarks/guard/proposals/`` (written, with its verdicts, before the guard was tuned, by an
author who had not read the guard; see ``benchmarks/guard/README.md``) and compares with the
labels. Each file carries ``expect: {twin, verdict, category}``; the guard ignores ``expect``.

Baseline, in the same run: **nominal only**, the same guard without the stress scenarios (a
proposal is rejected only for its code, its fit to the twin, or a violation in the nominal
scenario) — what trying a proposal once on the twin as declared would catch.

Last line: ``guard caught_unsafe=<%> caught_malicious=<%> false_reject=<%> p95_s=<s>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._record import add_record_flag, checksum_mismatches, markdown_table, record  # noqa: E402
from twinforge.control import judge, parse_proposal  # noqa: E402
from twinforge.spec import load_spec  # noqa: E402

SET = ROOT / "benchmarks" / "guard"
CATEGORIES = ("safe", "unsafe", "broken", "malicious")


def frozen_ok() -> bool:
    sums = SET / "SHA256SUMS"
    return sums.exists() and not checksum_mismatches(sums, ROOT)


def nominal_only(v) -> bool:
    """Would the guard without stress scenarios reject it?"""
    if v.stage in ("code", "twin"):
        return True
    if v.stage == "run":
        return "scenario nominal" in " ".join(v.reasons) or "scenario" not in " ".join(v.reasons)
    return any(s["scenario"] == "nominal" and s["proposal_violations"] for s in v.scenarios)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="replications of each scenario")
    ap.add_argument("--limit", type=int, default=0, help="only the first N proposals (a quick look)")
    add_record_flag(ap)
    args = ap.parse_args()

    files = sorted((SET / "proposals").glob("*.yaml"))[: args.limit or None]
    twins: dict[str, object] = {}
    rows = []
    for f in files:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        expect = data.get("expect") or {}
        twin_path = ROOT / expect["twin"]
        twin = twins.setdefault(str(twin_path), load_spec(twin_path))
        t0 = time.perf_counter()
        try:
            v = judge(twin, parse_proposal(data, file=f.name), reps=args.reps)
            verdict, base, stage, reason = (
                v.verdict,
                "reject" if nominal_only(v) else "accept",
                v.stage,
                v.reasons[0],
            )
        except Exception as exc:  # a malformed proposal is a clean reject only if parse says so
            from twinforge.errors import SpecError

            if not isinstance(exc, SpecError):
                raise
            verdict, base, stage, reason = "reject", "reject", "parse", str(exc).splitlines()[0]
        seconds = time.perf_counter() - t0
        rows.append((f.name, expect["category"], expect["verdict"], verdict, base, stage, seconds, reason))
        print(
            f"{f.name:55s} {expect['category']:9s} want {expect['verdict']:6s} got {verdict:6s} "
            f"({stage}, {seconds:.1f} s) {reason[:90]}",
            flush=True,
        )

    def rate(cat: str, col: int, want: str) -> float:
        sel = [r for r in rows if r[1] == cat]
        return 100.0 * sum(r[col] == want for r in sel) / len(sel) if sel else float("nan")

    table = []
    for cat in CATEGORIES:
        n = sum(r[1] == cat for r in rows)
        want = "accept" if cat == "safe" else "reject"
        table.append([cat, n, f"{rate(cat, 3, want):.1f}", f"{rate(cat, 4, want):.1f}"])
    times = np.array([r[6] for r in rows])
    p50, p95 = float(np.percentile(times, 50)), float(np.percentile(times, 95))
    stages = Counter(r[5] for r in rows)
    print()
    print(markdown_table(["category", "n", "guard: right %", "nominal only: right %"], table))
    print(f"\nstages: {dict(stages)}; p50 {p50:.1f} s, p95 {p95:.1f} s; frozen set intact: {frozen_ok()}")
    caught_unsafe, caught_mal = rate("unsafe", 3, "reject"), rate("malicious", 3, "reject")
    false_reject = rate("safe", 3, "reject")
    base_unsafe = rate("unsafe", 4, "reject")
    headline = (
        f"guard caught_unsafe={caught_unsafe:.1f} caught_malicious={caught_mal:.1f} "
        f"false_reject={false_reject:.1f} p95_s={p95:.1f} caught_broken={rate('broken', 3, 'reject'):.1f} "
        f"nominal_only_caught_unsafe={base_unsafe:.1f} n={len(rows)}"
    )
    if args.record:
        wrong = [r for r in rows if (r[3] == "accept") != (r[2] == "accept")]
        body = (
            "Every proposal of the frozen set `benchmarks/guard/proposals/` (labels written before the guard "
            f"was tuned; set intact: {frozen_ok()}), {args.reps} replications of each of the five scenarios. "
            "Baseline in the same run: the same guard with the nominal scenario only.\n\n"
            "What was looked at: the guard was built from docs/guard.md before the set existed. Before the "
            "first run, two places where docs/guard.md was ambiguous were settled towards their plain reading "
            "after reading the set author's list of judgement calls (noise is added to a status too; a pump "
            "without a max_temperature gets the catalogue's 90 degC); no verdict of the set had been seen. "
            "Nothing was changed after the first run.\n\n"
            + markdown_table(["category", "n", "guard: right %", "nominal only: right %"], table)
            + f"\n\nTime per proposal: p50 {p50:.1f} s, p95 {p95:.1f} s (a sandboxed process, all runs).\n\n"
            + (
                "Wrong verdicts:\n\n"
                + markdown_table(
                    ["proposal", "category", "expected", "got", "stage", "reason"],
                    [[r[0], r[1], r[2], r[3], r[5], r[7][:120]] for r in wrong],
                )
                if wrong
                else "No wrong verdicts."
            )
            + f"\n\n`{headline}`"
        )
        record("guard_eval", "Guard: control proposals judged against the twin", body)
    print(headline)


if __name__ == "__main__":
    main()
