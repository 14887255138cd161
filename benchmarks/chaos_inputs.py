"""Hostile inputs through the real CLI: does any of them crash, hang or reach the terminal raw?

Every case is a ``twinforge`` command line run with ``typer.testing.CliRunner`` in a worker process
(the CLI is imported once per worker); each run has a timeout, and a run that exceeds it kills the
worker, counts as a hang, and a fresh worker goes on with the next run. Each case runs ``repeats``
times (default 3).

Cases:

- **files**: seven hostile files — a 342-byte "billion laughs" (nested YAML aliases), nesting 5,000
  deep, a ``!!python/object/apply`` tag, binary data with NUL bytes, invalid UTF-8, a recursive alias
  and a file over the 10 MiB input limit — given as each kind of file argument: twin spec, scenario,
  state, events, jobs, file mapping, topic mapping and examples file;
- **values**: scenarios with inf / NaN / zero / too large factors and values, KPI expressions that
  overflow, divide by zero or turn complex;
- **options**: ``--reps`` 0 and 1e9, a negative and a 33-bit seed, horizons of 1e300 s and ``inf h``,
  a NaN warm-up, NaN and infinite time limits, a negative ``--top``;
- **output**: ``show``, ``validate`` and ``diff`` of twins whose names, ids and descriptions carry
  terminal escape sequences, C1 controls and bidi overrides.

A run is **clean** when the command exits 0, 1 or 2 (answer, finding or clean error) without a
traceback. It **crashed** on a traceback, an exception that is not a clean error, or a hang beyond
the timeout; it is **unescaped** when a control or bidi character from the input reached the
output raw (counted apart from crashes). ``measure()`` returns ``{"runs", "crashed", "unescaped",
"rows"}`` for ``benchmarks/chaos.py``; ``python -m benchmarks.chaos_inputs`` prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._record import markdown_table
from twinforge.cli.render import CONTROL_CHARS, escape_controls

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
TIMEOUT_S = 60.0

BILLION_LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, a in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)
HOSTILE_FILES: dict[str, bytes] = {
    "billion laughs": BILLION_LAUGHS.encode(),
    "deep nesting": b"[" * 5000 + b"]" * 5000 + b"\n",
    "python tag": b"twinforge: 1\nname: !!python/object/apply:builtins.len [[1, 2]]\n",
    "binary (NUL bytes)": bytes(range(256)) * 4,
    "invalid UTF-8": b"name: caf\xe9 \xff\xfe\n",
    "recursive alias": b"a: &a [1, *a]\n",
}
OVERSIZE = "over 10 MiB"
#: Lines of a run's output that say what happened (errors, notes), shown in the table.
SAYS = re.compile(
    r"error|note:|invalid|cannot|must|should|declined|unsupported|not a|Exception|Traceback", re.I
)


@dataclass
class Case:
    name: str
    group: str
    args: list[str]
    check_raw: bool = False
    runs: list[dict[str, Any]] = field(default_factory=list)


def _twin(name: str) -> str:
    from twinforge.examples import examples_dir

    return str(examples_dir() / f"{name}.yaml")


def _hostile_twin(folder: Path) -> tuple[Path, Path]:
    """Two versions of a twin whose user text carries escape sequences, C1 controls and bidi marks."""
    import yaml

    from twinforge.spec import load_spec
    from twinforge.spec.io import spec_to_data

    data = spec_to_data(load_spec(_twin("bottling_line")))
    data["name"] = "evil\x1b[2J\x1b]0;pwned\x07-\u202egnp.exe"
    data["description"] = "clears the screen \x1b[2J\x9b31m and \u2066flips\u2069 text"
    data["products"] = ["beer\x1b[5m", "[red]cola[/red]"]
    data["nodes"][0]["name"] = "Pallets \u202eni\u202c \x85 [bold]in[/bold]"
    data["nodes"][0]["tags"] = ["\x1b[31mred"]
    a = folder / "hostile_twin.yaml"
    a.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    data["nodes"][1]["name"] = "changed \x1b[1A\x1b[2K"
    b = folder / "hostile_twin_b.yaml"
    b.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    broken = dict(data, nodes=[*data["nodes"], {"id": "x\x1b[2J", "kind": "bufer\u202e"}])
    c = folder / "hostile_broken.yaml"
    c.write_text(yaml.safe_dump(broken, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return a, b


def cases(folder: Path) -> list[Case]:
    """Every case, its files written into ``folder``."""
    line, pumps, chain = _twin("bottling_line"), _twin("pump_station"), _twin("supply_chain")
    files: dict[str, Path] = {}
    for kind, data in HOSTILE_FILES.items():
        files[kind] = folder / f"{kind.split()[0]}.yaml"
        files[kind].write_bytes(data)
    files[OVERSIZE] = folder / "oversize.yaml"
    with files[OVERSIZE].open("w", encoding="utf-8") as fh:
        fh.write("# padding\n" * (1_100_000))  # 11 MB of comments: valid YAML, over the limit
    csv = folder / "data.csv"
    csv.write_text("t,Current\n0,1.0\n", encoding="utf-8")
    store = str(folder / "store.duckdb")
    question = "What is Dresden's daily demand?"
    as_argument = {
        "twin spec": lambda f: ["validate", f],
        "scenario": lambda f: ["simulate", line, "-s", f, "-n", "2", "--horizon", "1 h", "--no-progress"],
        "state": lambda f: ["warn", line, "--state", f, "-n", "2", "--horizon", "1 h"],
        "events": lambda f: ["warn", line, "--events", f, "-n", "2", "--horizon", "1 h"],
        "jobs": lambda f: ["schedule", line, "--jobs", f, "-t", "1"],
        "file mapping": lambda f: ["ingest", pumps, str(csv), "--mapping", f, "--store", store],
        "topic mapping": lambda f: [
            "emulate",
            pumps,
            "--steady",
            "--duration",
            "1",
            "--topics",
            f,
            "-b",
            "127.0.0.1:9",
        ],
        "examples file": lambda f: ["ask", chain, question, "--examples", f],
    }
    out = [  # file names relative to the folder the runs start in: messages name them shortly
        Case(f"{kind} as {arg}", "file", build(path.name))
        for kind, path in files.items()
        for arg, build in as_argument.items()
    ]

    def scenario(name: str, intervention: str) -> str:
        p = folder / f"scenario_{len(out)}.yaml"
        p.write_text(f"name: {name}\ninterventions:\n  - {intervention}\n", encoding="utf-8")
        return p.name

    sim = ["-n", "2", "--horizon", "1 h", "--no-progress"]
    for label, iv in (
        ("factor inf", "{op: scale_parameter, target: filler, parameter: process_time, factor: .inf}"),
        ("factor NaN", "{op: scale_parameter, target: filler, parameter: process_time, factor: .nan}"),
        (
            "factor 0 on a process time",
            "{op: scale_parameter, target: filler, parameter: process_time, factor: 0}",
        ),
        ("factor 0 on a failure time", "{op: scale_parameter, target: filler, parameter: mtbf, factor: 0}"),
        ("factor -1", "{op: scale_demand, factor: -1}"),
        ("factor 1e300", "{op: scale_parameter, target: filler, parameter: process_time, factor: 1.0e+300}"),
        ("value NaN", "{op: set_parameter, target: filler, parameter: power_busy, value: .nan}"),
        ("outage of inf s", "{op: outage, target: filler, duration: .inf}"),
        ("arrival rate inf", "{op: set_arrival_rate, target: pallets_in, rate: .inf}"),
    ):
        out.append(Case(f"scenario {label}", "value", ["simulate", line, "-s", scenario("s", iv), *sim]))
    out.append(
        Case(
            "flow scenario factor inf",
            "value",
            ["optimize", chain, "-s", scenario("d", "{op: scale_demand, factor: .inf}")],
        )
    )
    for expr in (
        "10**400",
        "(-1)**0.5",
        "1/0",
        "log(0)",
        "exp(1000)",
        "9**9**9",
        "sqrt(-1)",
        "round(1e308*10)",
    ):
        out.append(Case(f"KPI {expr}", "value", ["simulate", line, "--kpi", f"x={expr}", *sim]))
    for label, args in (
        ("--reps 0", ["simulate", line, "--reps", "0", "--horizon", "1 h"]),
        ("--reps 1e9", ["simulate", line, "--reps", "1000000000", "--horizon", "1 h"]),
        ("--seed -1", ["simulate", line, "--seed", "-1", *sim]),
        ("--seed 2**33", ["simulate", line, "--seed", str(2**33), *sim]),
        ("--horizon 1e300 s", ["simulate", line, "-n", "2", "--horizon", "1e300 s"]),
        ("--horizon inf h", ["simulate", line, "-n", "2", "--horizon", "inf h"]),
        ("--warmup nan s", ["simulate", line, "-n", "2", "--horizon", "1 h", "--warmup", "nan s"]),
        ("warn --seed -5", ["warn", line, "-n", "2", "--seed", "-5", "--horizon", "1 h"]),
        ("warn --day-elapsed 1e300 s", ["warn", line, "-n", "2", "--day-elapsed", "1e300 s"]),
        ("route --seed -1", ["route", _twin("delivery"), "--seed", "-1", "-t", "0.5"]),
        ("schedule --time-limit inf", ["schedule", line, "--jobs", files["python tag"].name, "-t", "inf"]),
        ("optimize --time-limit nan", ["optimize", chain, "--time-limit", "nan"]),
        ("optimize --top -1", ["optimize", chain, "--top", "-1"]),
        ("ask --reps 0", ["ask", chain, question, "--reps", "0"]),
    ):
        out.append(Case(label, "option", args))
    good, changed = _hostile_twin(folder)
    for label, args in (
        ("show: control chars in names", ["show", good.name]),
        ("validate: control chars in names", ["validate", good.name]),
        ("validate: control chars in errors", ["validate", "hostile_broken.yaml"]),
        ("diff: control chars in names", ["diff", good.name, changed.name]),
        ("an option value with an escape sequence", ["simulate", line, "--reps", "\x1b[2J\u202e1"]),
        ("a file name with an escape sequence", ["show", "\x1b]0;pwned\x07\x1b[2J.yaml"]),
    ):
        out.append(Case(label, "output", args, check_raw=True))
    return out


# -- the worker: runs CLI invocations in-process, one JSON line per run --------------------------


def classify(exc: BaseException | None, exit_code: int, text: str, check_raw: bool) -> tuple[str, list[str]]:
    """Outcome of one run (``clean``, ``unescaped``, or what crashed) and the lines that say why."""
    if exc is not None and not isinstance(exc, SystemExit):
        outcome, message = f"exception {type(exc).__name__}", f"{type(exc).__name__}: {exc}"
    elif "Traceback (most recent call last)" in text:
        outcome, message = "traceback", text
    elif exit_code not in (0, 1, 2):
        outcome, message = f"exit {exit_code}", text
    elif check_raw and (
        bad := sorted({f"U+{ord(ch):04X}" for ch in text if ch != "\n" and CONTROL_CHARS.match(ch)})
    ):
        outcome, message = "unescaped", "raw " + ", ".join(bad)
    else:
        outcome, message = "clean", text
    lines = [x.strip(" │╭╮╰╯─┃") for x in message.splitlines()]
    lines = [x for x in lines if x and not x.startswith(("Usage:", "Try '", "Error"))]
    lines = [x for x in lines if ": error" in x] or [x for x in lines if SAYS.search(x)] or lines
    return outcome, lines[:2]


def _worker(plan_file: str, start: int) -> None:
    from typer.testing import CliRunner

    from twinforge.cli.main import app

    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    runner = CliRunner()
    for i in range(start, len(plan)):
        args, check_raw = plan[i]["args"], plan[i]["check_raw"]
        t0 = time.perf_counter()
        res = runner.invoke(app, args)
        seconds = time.perf_counter() - t0
        outcome, lines = classify(res.exception, res.exit_code, res.output, check_raw)
        print(
            json.dumps(
                {
                    "i": i,
                    "outcome": outcome,
                    "exit": res.exit_code,
                    "s": round(seconds, 3),
                    "message": lines[:2],
                }
            ),
            flush=True,
        )


def _run_plan(plan: list[dict[str, Any]], folder: Path, timeout: float) -> list[dict[str, Any]]:
    """Run every invocation of ``plan`` in worker processes; a hang kills the worker."""
    plan_file = folder / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    results: list[dict[str, Any] | None] = [None] * len(plan)
    start = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT), "COLUMNS": "100"}
    while start < len(plan):
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.chaos_inputs", "--worker", str(plan_file), str(start)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(p: subprocess.Popen = proc, q: queue.Queue = lines) -> None:
            assert p.stdout is not None
            for text in p.stdout:
                q.put(text)
            q.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout + 30.0  # the first run also imports the CLI
        while True:
            try:
                text = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:  # a hang: this run is counted, a new worker takes the next one
                proc.kill()
                proc.wait()
                results[start] = {"i": start, "outcome": "hang", "exit": None, "s": timeout, "message": []}
                start += 1
                break
            if text is None:  # the worker ended: all done, or it died on a run
                proc.wait()
                if start < len(plan):
                    results[start] = {
                        "i": start,
                        "outcome": f"worker died ({proc.returncode})",
                        "exit": proc.returncode,
                        "s": None,
                        "message": [],
                    }
                    start += 1
                break
            if not text.startswith("{"):
                continue
            r = json.loads(text)
            results[r["i"]] = r
            start = r["i"] + 1
            deadline = time.monotonic() + timeout
    return [r for r in results if r is not None]


def measure(repeats: int = REPEATS, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Run every case ``repeats`` times; ``{"runs", "crashed", "unescaped", "rows"}``."""
    with tempfile.TemporaryDirectory(prefix="twinforge-chaos-inputs-") as tmp:
        folder = Path(tmp)
        all_cases = cases(folder)
        plan = [
            {"case": k, "args": c.args, "check_raw": c.check_raw}
            for k, c in enumerate(all_cases)
            for _ in range(repeats)
        ]
        for r in _run_plan(plan, folder, timeout):
            all_cases[plan[r["i"]]["case"]].runs.append(r)
    rows = []
    for c in all_cases:
        crashed = [r for r in c.runs if r["outcome"] not in ("clean", "unescaped")]
        unescaped = [r for r in c.runs if r["outcome"] == "unescaped"]
        worst = (crashed or unescaped or c.runs or [{"outcome": "not run", "message": []}])[0]
        exits = sorted({str(r["exit"]) for r in c.runs})
        seconds = [r["s"] for r in c.runs if r.get("s") is not None]
        rows.append(
            {
                "group": c.group,
                "input": c.name,
                "runs": len(c.runs),
                "crashed": len(crashed),
                "unescaped": len(unescaped),
                "exit": "/".join(exits),
                "max_s": round(max(seconds), 2) if seconds else None,
                "outcome": worst["outcome"],
                "message": escape_controls(" ".join(worst.get("message") or []))[:110].replace("|", "/"),
            }
        )
    return {
        "runs": sum(r["runs"] for r in rows),
        "crashed": sum(r["crashed"] for r in rows),
        "unescaped": sum(r["unescaped"] for r in rows),
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    headers = ["group", "input", "runs", "crashed", "unescaped", "exit", "max_s", "message"]
    return markdown_table(
        headers, [[r[h] if r[h] is not None else "–" for h in headers] for r in result["rows"]]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=REPEATS, help="runs of each case")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds before a run is a hang")
    ap.add_argument("--worker", nargs=2, metavar=("PLAN", "START"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]))
        return
    started = time.perf_counter()
    result = measure(args.repeats, args.timeout)
    print(table(result))
    print(
        f"\nchaos_inputs runs={result['runs']} crashed={result['crashed']} unescaped={result['unescaped']} "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
