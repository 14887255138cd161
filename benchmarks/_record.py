"""Shared helpers for benchmark scripts: machine description and recording into docs/benchmarks.md.

Each benchmark owns one section of ``docs/benchmarks.md``, delimited by
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; :func:`record` replaces that section.

Recording is opt-in, the same way for every script: :func:`add_record_flag` gives the script's
parser a ``--record`` option, and :func:`record` writes only when that option was given (without
it a run only prints, so a quick look or a trial run never overwrites the recorded numbers).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import os
import platform
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

_asked = False  # set by the --record option (see add_record_flag)


class _RecordFlag(argparse.Action):
    """``--record``: sets ``args.record`` and allows :func:`record` to write."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        global _asked
        _asked = True
        setattr(namespace, self.dest, True)


def add_record_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--record`` to a benchmark's parser: write its section of docs/benchmarks.md (without
    it the run only prints)."""
    parser.add_argument(
        "--record",
        action=_RecordFlag,
        help="write this benchmark's section of docs/benchmarks.md (default: only print)",
    )


def machine() -> str:
    """One line describing the machine the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ""
    with contextlib.suppress(OSError):
        load = f", load avg {os.getloadavg()[0]:.2f}"
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}{load}"


def commit() -> str:
    """The git commit the benchmark ran on, marked ``+dirty`` when the tree had changes."""
    import subprocess

    root = DOC.parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {sha}" + (" (+dirty)" if dirty else "")


def record(name: str, title: str, body_markdown: str, rerun: str | None = None) -> bool:
    """Write (or replace) the section of ``docs/benchmarks.md`` owned by benchmark ``name`` when
    ``--record`` was given (:func:`add_record_flag`); otherwise do nothing but say so on stderr.
    ``rerun``: the command that re-runs it (default ``python benchmarks/NAME.py --record``).
    Returns whether the section was written."""
    if not _asked:
        print(
            f"docs/benchmarks.md not changed (pass --record to write the {name!r} section)", file=sys.stderr
        )
        return False
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Measured {stamp} on {machine()}, {commit()}. "
        f"Re-run: `{rerun or f'python benchmarks/{name}.py --record'}`.\n\n"
        f"{body_markdown.strip()}\n<!-- /bench:{name} -->"
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return True


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def checksum_mismatches(sums: Path, base: Path) -> list[str]:
    """Files a ``sha256sum`` list names (relative to ``base``) that are missing or no longer match."""
    import hashlib

    out = []
    for line in filter(None, sums.read_text(encoding="utf-8").splitlines()):
        digest, name = line.split(maxsplit=1)
        path = base / name.strip().lstrip("*")
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            out.append(name.strip())
    return out
