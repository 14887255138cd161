"""Sample 150 fresh excavator work orders (30 per asset A-E) for a blind label set.

Excludes every source_row already in ../lines.csv and every text identical (case-insensitive,
stripped, whitespace-collapsed) to a text there; no duplicate texts among the sampled rows;
per asset, proportional allocation by year (largest remainder) with at least one line per
year present in the eligible pool. Malformed rows (non-numeric Cost) are skipped.
Labels (part, problem, action, fmc) are left empty here and were filled in by hand.
"""
import csv
import importlib.util
import os
import random
import re
import sys
from collections import defaultdict

SEED = 2026
PER_ASSET = 30
HERE = os.path.dirname(os.path.abspath(__file__))
OLD = os.path.join(HERE, "..", "lines.csv")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "lines.csv")


def norm(t):
    return re.sub(r"\s+", " ", t.strip().lower())


def source_path():
    s = importlib.util.find_spec("nestor")  # locate only; the package is not imported
    return os.path.join(s.submodule_search_locations[0], "datasets", "excavators.csv")


def allocate(counts, n):
    years = sorted(counts)
    if n < len(years):  # cannot cover every year: take the largest years
        years = sorted(years, key=lambda y: -counts[y])[:n]
    alloc = {y: 1 for y in years}
    rest = n - len(years)
    total = sum(counts[y] - 1 for y in years)
    quota = {y: rest * (counts[y] - 1) / total for y in years} if total else {y: 0 for y in years}
    for y in years:
        alloc[y] += int(quota[y])
    left = n - sum(alloc.values())
    for y in sorted(years, key=lambda y: -(quota[y] - int(quota[y])))[:left]:
        alloc[y] += 1
    for y in years:
        assert alloc[y] <= counts[y]
    return alloc


def main():
    if os.path.exists(OUT):  # never overwrite the hand-labelled file
        sys.exit(f"{OUT} exists; pass another output path to re-run")
    rng = random.Random(SEED)
    with open(OLD, newline="") as f:
        old = list(csv.DictReader(f))
    old_rows = {int(r["source_row"]) for r in old}
    old_texts = {norm(r["text"]) for r in old}

    with open(source_path(), newline="") as f:
        rows = list(csv.DictReader(f))

    taken = set(old_texts)
    out = []
    for asset in "ABCDE":
        pool = []
        for i, r in enumerate(rows):
            if r["Asset"] != asset or i in old_rows:
                continue
            if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", r["Cost"].strip()):
                continue  # malformed row
            if not r["OriginalShorttext"].strip() or norm(r["OriginalShorttext"]) in taken:
                continue
            pool.append(i)
        rng.shuffle(pool)
        seen, uniq = set(), []
        for i in pool:  # one random representative per distinct text
            k = norm(rows[i]["OriginalShorttext"])
            if k not in seen:
                seen.add(k)
                uniq.append(i)
        by_year = defaultdict(list)
        for i in uniq:
            by_year[rows[i]["BscStartDate"][:4]].append(i)
        alloc = allocate({y: len(v) for y, v in by_year.items()}, PER_ASSET)
        chosen = []
        for y in sorted(alloc):
            chosen += rng.sample(by_year[y], alloc[y])
        chosen.sort(key=lambda i: (rows[i]["BscStartDate"], i))
        for i in chosen:
            taken.add(norm(rows[i]["OriginalShorttext"]))
            print(asset, rows[i]["BscStartDate"][:4], end="; ")
        print()
        out += chosen

    with open(OUT, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "split", "source_row", "date", "asset", "text", "cost",
                    "part", "problem", "action", "fmc"])
        for k, i in enumerate(out):
            r = rows[i]
            w.writerow([k, "fresh", i, r["BscStartDate"], r["Asset"], r["OriginalShorttext"],
                        r["Cost"], "", "", "", ""])


if __name__ == "__main__":
    main()
