"""Redaction of personal data: span-level recall and precision on the frozen PII corpus.

The corpus (``benchmarks/pii/corpus.yaml``, see its README) holds maintenance-log lines, operator
questions, admin notes, incident reports and hand-over e-mails in English, German, French, Spanish
and Dutch with their personal data labelled (names, e-mails, phones, IBANs, cards, national ids,
dates of birth), plus sentences with none but with look-alikes (pump names, part numbers, serials,
timestamps, quantities, dates that are not birth dates). It is split into ``dev`` (tuned on) and
``test`` (frozen with SHA-256, only measured) by template family and language.

:func:`measure` scores the default :class:`twinforge.ai.Redactor` on the test part:
``{"recall": pct, "precision": pct, "n": spans, "rows": [per kind]}``. Run as a script it prints
the table and, last, ``pii recall=<%> precision=<%> n=<true PII spans>``. Misses and false
positives are printed for ``--split dev`` only, unless ``--show-misses`` (which looks at test data).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "pii" / "corpus.yaml"
README = ROOT / "benchmarks" / "pii" / "README.md"
GOALS = {"recall": 95.0, "precision": 90.0}


class CorpusChanged(RuntimeError):
    """The frozen test part of the corpus no longer matches the checksum in its README."""


def checksum(part: list[dict[str, Any]]) -> str:
    """SHA-256 of the canonical JSON of a corpus part."""
    canonical = json.dumps(part, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def frozen_checksum() -> str:
    """The test part's checksum as recorded in the README."""
    m = re.search(r"test sha256: ([0-9a-f]{64})", README.read_text(encoding="utf-8"))
    if m is None:
        raise CorpusChanged(f"{README} records no 'test sha256: ...' line")
    return m.group(1)


def load_corpus(split: str = "test") -> list[dict[str, Any]]:
    """The items of one part (``dev`` or ``test``); the test part is checked against its checksum."""
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    if split not in ("dev", "test"):
        raise ValueError(f"split must be dev or test, not {split!r}")
    part = data[split]
    if split == "test" and checksum(part) != frozen_checksum():
        raise CorpusChanged("the frozen test part of benchmarks/pii/corpus.yaml was changed")
    return part


def labelled(items: list[dict[str, Any]]) -> list[tuple[str, str, list[Any]]]:
    """``(id, text, true spans)`` for :func:`twinforge.ai.redaction.score_redaction`: every
    occurrence of a labelled substring is a span of that kind."""
    from twinforge.ai.redaction import PIISpan

    out = []
    for item in items:
        text = item["text"]
        spans = []
        for kind, value in item["pii"]:
            starts = [m.start() for m in re.finditer(re.escape(value), text)]
            if not starts:
                raise ValueError(f"{item['id']}: {value!r} is not in the text")
            spans += [PIISpan(s, s + len(value), kind) for s in starts]
        out.append((item["id"], text, spans))
    return out


def score(split: str = "test", redactor: Any = None) -> Any:
    """The :class:`~twinforge.ai.redaction.RedactionScore` of ``redactor`` (default settings) on a part."""
    from twinforge.ai.redaction import Redactor, score_redaction

    return score_redaction(redactor or Redactor(), labelled(load_corpus(split)))


def measure(split: str = "test") -> dict[str, Any]:
    """Recall and precision (percent) of the default redactor, with one row per PII kind."""
    s = score(split)
    kinds = sorted(s.total, key=lambda k: -s.total[k])
    rows = [
        {
            "kind": k,
            "found": s.found.get(k, 0),
            "total": s.total[k],
            "recall": round(100.0 * s.found.get(k, 0) / s.total[k], 1),
            "false_positives": s.false_positives.get(k, 0),
        }
        for k in kinds
    ]
    extra = sorted(set(s.false_positives) - set(kinds))  # labels with no PII kind of their own
    rows += [
        {"kind": k, "found": 0, "total": 0, "recall": None, "false_positives": s.false_positives[k]}
        for k in extra
    ]
    return {
        "split": split,
        "recall": round(s.recall, 1),
        "precision": round(s.precision, 1),
        "n": sum(s.total.values()),
        "redacted": s.redacted,
        "false_positives": s.redacted - s.correct,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    from benchmarks._record import markdown_table

    rows = [
        [
            r["kind"],
            f"{r['found']}/{r['total']}",
            "" if r["recall"] is None else r["recall"],
            r["false_positives"],
        ]
        for r in result["rows"]
    ]
    rows.append(
        [
            "all",
            f"{round(result['recall'] * result['n'] / 100)}/{result['n']}",
            result["recall"],
            result["false_positives"],
        ]
    )
    return markdown_table(["kind", "found/total", "recall %", "false positives"], rows)


def main() -> int:
    from benchmarks._record import add_record_flag

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test"], default="test")
    ap.add_argument(
        "--show-misses", action="store_true", help="list misses and false positives of the test part too"
    )
    add_record_flag(ap)
    args = ap.parse_args()
    result = measure(args.split)
    print(f"PII redaction on the {args.split} part of {CORPUS.relative_to(ROOT)}\n")
    print(table(result))
    print(
        f"\nprecision {result['precision']} % ({result['redacted'] - result['false_positives']}"
        f"/{result['redacted']} redacted spans overlap true PII)"
    )
    if args.split == "dev" or args.show_misses:
        s = score(args.split)
        for item_id, kind, value in s.misses:
            print(f"  missed {kind:<12} {value!r:<40} ({item_id})")
        for item_id, label, value in s.wrong:
            print(f"  wrongly redacted as {label:<12} {value!r} ({item_id})")
    if args.record:
        from benchmarks._record import record

        goal = result["recall"] >= GOALS["recall"] and result["precision"] >= GOALS["precision"]
        body = (
            f"Frozen test part of `benchmarks/pii/corpus.yaml` ({result['n']} PII spans in 5 languages, plus "
            "negatives with look-alikes); span-level scoring, see `benchmarks/pii/README.md`.\n\n"
            + table(result)
            + f"\n\nPrecision {result['precision']} %. Goals recall ≥ {GOALS['recall']:g} %, precision ≥ "
            f"{GOALS['precision']:g} %: **{'met' if goal else 'missed'}**."
        )
        record("chaos_pii", "Redaction of personal data (PII corpus)", body)
    print(f"pii recall={result['recall']:.1f} precision={result['precision']:.1f} n={result['n']}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
