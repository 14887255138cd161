"""Hostile inputs through the CLI: every file argument, option bounds, escaped output."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from twinforge.cli.bounds import MAX_HORIZON_S, MAX_REPS, MAX_SEED
from twinforge.cli.main import app
from twinforge.cli.render import CONTROL_CHARS, escape_controls, safe

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
LINE, CHAIN, PUMPS = (
    str(EX / "bottling_line.yaml"),
    str(EX / "supply_chain.yaml"),
    str(EX / "pump_station.yaml"),
)

BILLION_LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, a in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
).encode()
HOSTILE = {
    "binary": (b"\x00\x01\x02\x03twinforge: 1\n" * 8, "binary data, not text (a NUL byte at byte 0)"),
    "latin-1": ("name: Café\n".encode("latin-1"), "not UTF-8 text"),
    "billion laughs": (BILLION_LAUGHS, "aliases expand to more than 100,000 nodes"),
    "python tag": (
        b"a: 1\nb: !!python/object/apply:os.getcwd []\n",
        "unsupported YAML tag '!!python/object/apply",
    ),
    "deep": (b"[" * 3000 + b"]" * 3000, "nesting deeper than 64 levels"),
}


def file_argument(kind: str, f: str, tmp: Path) -> list[str]:
    csv = tmp / "data.csv"
    csv.write_text("t,Current\n0,1\n")
    return {
        "twin spec": ["show", f],
        "second twin of diff": ["diff", LINE, f],
        "scenario": ["simulate", LINE, "-s", f, "-n", "2", "--horizon", "1 h", "--no-progress"],
        "flow scenario": ["optimize", CHAIN, "-s", f],
        "state": ["warn", LINE, "--state", f, "-n", "2", "--horizon", "1 h"],
        "events": ["warn", LINE, "--events", f, "-n", "2", "--horizon", "1 h"],
        "jobs": ["schedule", LINE, "--jobs", f, "-t", "1"],
        "file mapping": ["ingest", PUMPS, str(csv), "--mapping", f, "--store", str(tmp / "s.duckdb")],
        "topic mapping": [
            "emulate",
            PUMPS,
            "--steady",
            "--duration",
            "1",
            "--topics",
            f,
            "-b",
            "127.0.0.1:9",
        ],
        "examples file": ["ask", CHAIN, "What is Dresden's daily demand?", "--examples", f],
        "ask state": ["ask", CHAIN, "What is Dresden's daily demand?", "--state", f],
    }[kind]


FILE_KINDS = [
    "twin spec",
    "second twin of diff",
    "scenario",
    "flow scenario",
    "state",
    "events",
    "jobs",
    "file mapping",
    "topic mapping",
    "examples file",
    "ask state",
]


@pytest.mark.parametrize("hostile", list(HOSTILE))
@pytest.mark.parametrize("kind", FILE_KINDS)
def test_every_file_argument_refuses_hostile_files_cleanly(tmp_path, kind, hostile):
    content, message = HOSTILE[hostile]
    f = tmp_path / "hostile.yaml"
    f.write_bytes(content)
    result = runner.invoke(app, file_argument(kind, str(f), tmp_path))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert f"{f}:" in result.output  # the file, with the line where there is one
    assert message in result.output.replace("\n", " ")


def test_a_hostile_file_fails_before_the_twin_runs(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_bytes(BILLION_LAUGHS)
    result = runner.invoke(
        app, ["simulate", LINE, "-s", str(f), "-n", "2", "--horizon", "1 h", "--no-progress"]
    )
    assert result.exit_code == 2 and "replications" not in result.output


# -- scenario values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "intervention, message",
    [
        ("{op: scale_parameter, target: filler, parameter: process_time, factor: .inf}", "finite number"),
        ("{op: scale_parameter, target: filler, parameter: process_time, factor: .nan}", "finite number"),
        ("{op: scale_parameter, target: filler, parameter: process_time, factor: 0}", "not a valid value"),
        ("{op: scale_demand, factor: -2}", "greater than or equal to 0"),
        ("{op: outage, target: filler, duration: .inf}", "finite number"),
        ("{op: set_parameter, target: filler, parameter: power_busy, value: .nan}", "finite number"),
    ],
)
def test_out_of_range_scenario_values_are_refused_before_the_run(tmp_path, intervention, message):
    f = tmp_path / "s.yaml"
    f.write_text(f"name: s\ninterventions:\n  - {intervention}\n")
    result = runner.invoke(
        app, ["simulate", LINE, "-s", str(f), "-n", "2", "--horizon", "1 h", "--no-progress"]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "interventions[0]" in result.output
    assert "replications" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "order, message",
    [
        ("{id: a, quantity: 10, due: .inf}", "orders[0].due: due must be a finite time (found inf)"),
        (
            "{id: a, quantity: 10, release: .nan}",
            "orders[0].release: release must be a finite time (found nan)",
        ),
        ("{id: a, quantity: .inf}", "orders[0].quantity: Input should be a finite number"),
    ],
)
def test_non_finite_order_times_are_refused(tmp_path, order, message):
    f = tmp_path / "jobs.yaml"
    f.write_text(f"time_unit: min\norders:\n  - {order}\n")
    result = runner.invoke(app, ["schedule", LINE, "--jobs", str(f), "-t", "1"])
    assert result.exit_code == 2, result.output
    assert f"{f}:3: error at {message}" in " ".join(result.output.split())


@pytest.mark.parametrize(
    "state, message",
    [
        ("5", "expected a mapping {node: {state: value}}"),
        ("{filler: 5}", "node 'filler': expected a mapping {state: value}, found 5"),
        ("{filler: {temperature: .nan}}", "filler.temperature must be a finite number, found nan"),
    ],
)
def test_state_files_of_the_wrong_shape_are_refused(tmp_path, state, message):
    f = tmp_path / "state.yaml"
    f.write_text(state + "\n")
    for args in (
        ["warn", LINE, "--state", str(f), "-n", "2", "--horizon", "1 h"],
        ["ask", PUMPS, "What is the tank level?", "--state", str(f)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split())


# -- option bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, option",
    [
        (["simulate", LINE, "--reps", "0"], "--reps"),
        (["simulate", LINE, "--reps", str(MAX_REPS + 1)], "--reps"),
        (["simulate", LINE, "--reps", "1e9"], "--reps"),
        (["simulate", LINE, "--seed", "-1"], "--seed"),
        (["simulate", LINE, "--seed", str(MAX_SEED + 1)], "--seed"),
        (["simulate", LINE, "--horizon", "1e300 s"], "--horizon"),
        (["simulate", LINE, "--horizon", "11 years"], "--horizon"),
        (["simulate", LINE, "--horizon", "inf h"], "--horizon"),
        (["simulate", LINE, "--horizon", "0 s"], "--horizon"),
        (["simulate", LINE, "--warmup", "nan s"], "--warmup"),
        (["simulate", LINE, "--workers", "0"], "--workers"),
        (["warn", LINE, "--seed", "-5"], "--seed"),
        (["warn", LINE, "--reps", "0"], "--reps"),
        (["warn", LINE, "--day-elapsed", "1e300 s"], "--day-elapsed"),
        (["route", str(EX / "delivery.yaml"), "--seed", "-1"], "--seed"),
        (["route", str(EX / "delivery.yaml"), "--time-limit", "inf"], "--time-limit"),
        (["route", str(EX / "delivery.yaml"), "--road-factor", "nan"], "--road-factor"),
        (["schedule", LINE, "--jobs", "x.yaml", "--time-limit", "0"], "--time-limit"),
        (["schedule", LINE, "--jobs", "x.yaml", "--replay", "-1"], "--replay"),
        (["schedule", LINE, "--jobs", "x.yaml", "--noise", "nan"], "--noise"),
        (["optimize", CHAIN, "--time-limit", "nan"], "--time-limit"),
        (["optimize", CHAIN, "--top", "-1"], "--top"),
        (["ask", CHAIN, "q?", "--reps", "0"], "--reps"),
        (["ask", CHAIN, "q?", "--horizon", "-1 h"], "--horizon"),
        (["suggest", CHAIN, "--n", "0"], "--n"),
        (["detect", PUMPS, "x.csv", "--quantile", "1.5"], "--quantile"),
        (["detect", PUMPS, "x.csv", "--window", "0"], "--window"),
        (["rul", "a.csv", "b.csv", "--cap", "inf"], "--cap"),
    ],
)
def test_option_bounds_are_usage_errors(args, option):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"Invalid value for '{option}'" in result.output


def test_bounds_at_the_edges_are_accepted():
    assert MAX_HORIZON_S == 10 * 365 * 86400
    result = runner.invoke(
        app,
        ["simulate", LINE, "--reps", "1", "--seed", str(MAX_SEED), "--horizon", "30 min", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert f"(seed {MAX_SEED})" in result.output


# -- KPI expressions that overflow ----------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, why",
    [
        ("10**400", "10 ** 400 overflows"),
        ("exp(1000)", "exp(1000) overflows"),
        ("(-1)**0.5", "(-1) ** 0.5 is a complex number"),
        ("throughput / 0", "division by zero in throughput / 0"),
        ("log(0)", "log(0) is outside the function's domain"),
    ],
)
def test_kpi_without_a_finite_value_is_nan_with_a_note(expression, why):
    result = runner.invoke(
        app, ["simulate", LINE, "-n", "2", "--horizon", "1 h", "--no-progress", "--kpi", f"x={expression}"]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"note: KPI 'x' has no value (NaN): {why}" in text and "(2 of 2 replications)" in text
    assert "throughput" in text  # the rest of the table is there


def test_kpi_expression_mistakes_are_refused_before_the_run():
    for expression, message in (
        ("abs(1, 2)", "abs() takes 1 argument(s), found 2"),
        ("quantile(buf_fill.level, 5)", "quantile() takes a share between 0 and 1"),
        ("throughput +", "cannot parse"),
    ):
        result = runner.invoke(
            app, ["simulate", LINE, "-n", "2", "--horizon", "1 h", "--kpi", f"x={expression}"]
        )
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()) and "replications" not in result.output
    result = runner.invoke(app, ["simulate", LINE, "-n", "2", "--horizon", "1 h", "--kpi", "throughput=1"])
    assert result.exit_code == 2 and "already a built-in KPI" in result.output


# -- escaped output -----------------------------------------------------------------------------

EVIL_NAME = "evil\x1b[2J\x1b]0;pwned\x07-\u202egnp.exe"


@pytest.fixture
def hostile_twin(tmp_path):
    from twinforge.spec import load_spec
    from twinforge.spec.io import spec_to_data

    data = spec_to_data(load_spec(EX / "bottling_line.yaml"))
    data["name"] = EVIL_NAME
    data["products"] = ["beer\x9b5m", "[red]cola[/red]"]
    data["nodes"][0]["name"] = "Pallets \u2066in\u2069 [bold]x[/bold] \x85"
    data["nodes"][0]["tags"] = ["\x1b[31mred", "[/red]"]
    f = tmp_path / "evil.yaml"
    f.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return f, data


def assert_no_raw_controls(text: str) -> None:
    raw = sorted({f"U+{ord(c):04X}" for c in text if CONTROL_CHARS.match(c) and c != "\n"})
    assert not raw, f"raw control characters in the output: {raw}"


def test_show_escapes_control_characters_and_markup(hostile_twin):
    f, _ = hostile_twin
    result = runner.invoke(app, ["show", str(f)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert_no_raw_controls(result.output)
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07-\\u202egnp.exe" in result.output
    assert "[red]cola[/red]" in result.output and "beer\\x9b5m" in result.output
    assert "Pallets \\u2066in\\u2069 [bold]x[/bold] \\x85" in result.output
    assert "#\\x1b[31mred" in result.output and "#[/red]" in result.output  # (the line may wrap)


def test_validate_and_diff_escape_names_too(hostile_twin, tmp_path):
    f, data = hostile_twin
    result = runner.invoke(app, ["validate", str(f)])
    assert result.exit_code == 0, result.output
    assert_no_raw_controls(result.output)
    data["nodes"][1]["name"] = "up\x1b[1A\x1b[2K"
    data["nodes"].append({"id": "bad", "kind": "bufer\u202e"})
    g = tmp_path / "evil2.yaml"
    g.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(g)])
    assert result.exit_code == 2
    assert_no_raw_controls(result.output)
    assert "bufer\\u202e" in result.output
    del data["nodes"][-1]
    g.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["diff", str(f), str(g)])
    assert result.exit_code == 0, result.output
    assert_no_raw_controls(result.output)
    assert "up\\x1b[1A\\x1b[2K" in result.output


def test_error_messages_quoting_user_text_are_escaped(tmp_path):
    result = runner.invoke(app, ["show", str(tmp_path / "\x1b]0;x\x07[red]no.yaml")])
    assert result.exit_code == 2
    assert_no_raw_controls(result.output)
    assert "\\x1b]0;x\\x07[red]no.yaml: error: file not found" in result.output
    result = runner.invoke(app, ["schema", "--kind", "\x1b[2J\u202e[/bold]"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert_no_raw_controls(result.output)


def test_safe_escapes_controls_bidi_and_markup():
    assert escape_controls("a\x1b[31mb\u202ec\x85d\u2069\x7f") == "a\\x1b[31mb\\u202ec\\x85d\\u2069\\x7f"
    assert escape_controls("tab\there\nline") == "tab\\there\\nline"
    assert escape_controls("two\nlines\x07", keep_newlines=True) == "two\nlines\\x07"
    assert safe("[bold]x[/bold]") == "\\[bold]x\\[/bold]"
    assert safe("café – 日本 ✓") == "café – 日本 ✓"  # printable text is left alone
    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    text = safe("[/green] \\ [red]x\x1b[2J")
    console.print(f"[green]{text}[/green]")
    assert console.export_text().strip() == "[/green] \\ [red]x\\x1b[2J"


# -- the chaos benchmark's verdicts ------------------------------------------------------------------


def test_chaos_inputs_classifies_runs():
    sys.path.insert(0, str(ROOT))
    from benchmarks.chaos_inputs import HOSTILE_FILES, classify

    assert classify(None, 2, "error: bad file\n", False) == ("clean", ["error: bad file"])
    assert classify(ValueError("boom"), 1, "", False)[0] == "exception ValueError"
    assert (
        classify(SystemExit(2), 2, "Traceback (most recent call last):\n  x\nKeyError: 'a'", False)[0]
        == "traceback"
    )
    assert classify(None, 0, "name \x1b[2J here", True) == ("unescaped", ["raw U+001B"])
    assert classify(None, 0, "name \x1b[2J here", False)[0] == "clean"
    assert classify(None, 139, "", False)[0] == "exit 139"
    assert len(HOSTILE_FILES["billion laughs"]) < 400
