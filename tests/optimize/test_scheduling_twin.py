"""Orders on a twin: durations from the twin's process times, routes along the material path, and
clear errors for bad input; the ``twinforge schedule`` command."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.errors import SpecError
from twinforge.optimize.orders import Order, jobs_from_twin, load_jobs, parse_jobs, station_routes
from twinforge.optimize.scheduling import check_schedule, solve_schedule
from twinforge.spec import loads_spec

# process-time means on the bottling line, seconds per case (from examples/bottling_line.yaml)
LINE_MEANS = {
    "depalletizer": 28.0,  # lognormal mean 28
    "rinser": (26 + 29 + 36) / 3,  # triangular
    "filler": 32.0,
    "capper": 27.0,
    "labeler": 40 * 0.75,  # gamma shape*scale
    "packer": (26 + 32) / 2,  # uniform
}

TWO_PRODUCTS = """
twinforge: 1
name: two-product-cell
products: [lager, cola]
nodes:
  - {id: src, kind: source, parameters: {interarrival_time: 10 s}}
  - id: mixer
    kind: station
    parameters:
      process_time: {by_product: {lager: 30, cola: 45}, unit: s}
      setup_time: 10 min
  - id: bottler
    kind: station
    parameters: {process_time: 20 s, servers: 2}
  - {id: out, kind: sink}
edges:
  - {source: src, target: mixer}
  - {source: mixer, target: bottler}
  - {source: bottler, target: out}
"""

PARALLEL = """
twinforge: 1
name: parallel-lines
nodes:
  - {id: src, kind: source, parameters: {interarrival_time: 10 s}}
  - {id: line_a, kind: station, parameters: {process_time: 30 s}}
  - {id: line_b, kind: station, parameters: {process_time: 40 s}}
  - {id: out, kind: sink}
edges:
  - {source: src, target: line_a}
  - {source: src, target: line_b}
  - {source: line_a, target: out}
  - {source: line_b, target: out}
"""


def test_default_route_follows_the_material_path(bottling_line):
    assert station_routes(bottling_line) == [
        ["depalletizer", "rinser", "filler", "capper", "labeler", "packer"]
    ]


def test_order_durations_come_from_the_twin(bottling_line):
    jobs = jobs_from_twin(bottling_line, [Order(id="o1", quantity=100)], time_unit="min").jobs
    (job,) = jobs
    assert [op.station for op in job.operations] == list(LINE_MEANS)
    for op in job.operations:
        assert op.duration == pytest.approx(100 * LINE_MEANS[op.station] / 60)
        assert op.items == 100
    assert job.transfer_batch == 1


def test_single_order_makespan_is_the_flow_line_formula(bottling_line):
    # items move one by one: C = sum of per-item times + (N - 1) * slowest per-item time
    n = 100
    expected_s = sum(LINE_MEANS.values()) + (n - 1) * max(LINE_MEANS.values())
    jobs = jobs_from_twin(bottling_line, [Order(id="o1", quantity=n)], time_unit="s").jobs
    s = solve_schedule(jobs, time_limit=10, workers=1, time_unit="s")
    assert s.status == "OPTIMAL"
    assert s.makespan == pytest.approx(expected_s, abs=0.01)
    # moving the whole order at once: every station waits for the previous one to finish
    whole = jobs_from_twin(
        bottling_line, [Order(id="o1", quantity=n)], time_unit="s", transfer_batch=None
    ).jobs
    s_whole = solve_schedule(whole, time_limit=10, workers=1, time_unit="s")
    assert s_whole.makespan == pytest.approx(n * sum(LINE_MEANS.values()), abs=0.01)


def test_several_orders_on_the_line_are_optimal_and_feasible(bottling_line):
    orders = [
        Order(id="a", quantity=120, due="2 h", weight=2),
        Order(id="b", quantity=60, due=90),
        Order(id="c", quantity=200, release="30 min"),
        Order(id="d", quantity=40, route=["filler", "capper", "labeler", "packer"], due="3 h"),
    ]
    js = jobs_from_twin(bottling_line, orders, time_unit="min")
    assert js.jobs[0].due == 120 and js.jobs[2].release == 30 and js.jobs[1].due == 90
    for objective in ("makespan", "tardiness"):
        s = solve_schedule(js.jobs, objective=objective, time_limit=20, workers=2, time_unit="min")
        assert s.status == "OPTIMAL", objective
        assert check_schedule(js.jobs, s) == []
        # the filler, the bottleneck, must process every case: a lower bound on the makespan
        assert s.makespan >= (120 + 60 + 200 + 40) * 32 / 60 - 1e-6
        assert s.time_unit == "min"


def test_by_product_times_servers_and_setups(tmp_path):
    spec = loads_spec(TWO_PRODUCTS)
    orders = [
        Order(id="l1", product="lager", quantity=10),
        Order(id="c1", product="cola", quantity=10),
        Order(id="l2", product="lager", quantity=10),
    ]
    jobs = jobs_from_twin(spec, orders, time_unit="min", transfer_batch=None).jobs
    mixer = {j.id: j.operations[0] for j in jobs}
    assert mixer["l1"].duration == pytest.approx(10 * 30 / 60)
    assert mixer["c1"].duration == pytest.approx(10 * 45 / 60)
    assert mixer["l1"].setup == pytest.approx(10)
    # bottler has 2 servers: ceil(10 / 2) = 5 rounds of 20 s
    assert jobs[0].operations[1].duration == pytest.approx(5 * 20 / 60)
    s = solve_schedule(jobs, time_limit=10, workers=1, time_unit="min")
    products = [o.product for o in s.by_station()["mixer"]]
    assert products in (["lager", "lager", "cola"], ["cola", "lager", "lager"])  # one changeover only
    assert sum(o.setup for o in s.by_station()["mixer"]) == pytest.approx(10)
    assert check_schedule(jobs, s) == []


def test_bad_orders_give_every_error_with_file_line_and_path(bottling_line, tmp_path):
    f = tmp_path / "orders.yaml"
    f.write_text(
        "orders:\n"
        "  - {id: A, quantity: 120, due: 2 kg}\n"
        "  - {id: A, quantity: 60, route: [fillr, buf_fill]}\n"
        "  - {id: C, quantity: 0, colour: red}\n"
        "jobs:\n"
        "  - {id: X, operations: [[nowhere, 5]]}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        load_jobs(f, bottling_line)
    issues = {(i.dotted_path, i.line): i for i in info.value.issues}
    assert "7 error(s)" in str(info.value)
    assert "did you mean 'filler'" in issues[("orders[1].route[0]", 3)].message
    assert issues[("orders[1].route[0]", 3)].code == "unknown-station"
    assert "'buf_fill' is a buffer, not a station" in issues[("orders[1].route[1]", 3)].message
    assert "is not a time" in issues[("orders[0].due", 2)].message
    assert "used twice" in issues[("orders[1].id", 3)].message
    assert "unknown field 'colour'" in issues[("orders[2].colour", 4)].message
    assert ("orders[2].quantity", 4) in issues
    assert "unknown station 'nowhere'" in issues[("jobs[0].operations[0]", 6)].message
    assert str(f) in str(info.value)


def test_unknown_product_and_missing_process_time():
    spec = loads_spec(TWO_PRODUCTS)
    with pytest.raises(SpecError, match="unknown product 'lagr'; did you mean 'lager'"):
        jobs_from_twin(spec, [Order(id="x", product="lagr", quantity=1)])
    no_time = TWO_PRODUCTS.replace("products: [lager, cola]", "products: [lager, cola, water]")
    spec = loads_spec(no_time)
    with pytest.raises(SpecError, match="station 'mixer' has no process_time for product 'water'"):
        jobs_from_twin(spec, [Order(id="x", product="water", quantity=1)])


def test_ambiguous_route_asks_for_one():
    spec = loads_spec(PARALLEL)
    with pytest.raises(SpecError, match=r"2 station routes .*say which with 'route'"):
        jobs_from_twin(spec, [Order(id="x", quantity=1)])
    js = jobs_from_twin(spec, [Order(id="x", quantity=10, route=["line_b"])], time_unit="s")
    assert js.jobs[0].operations[0].duration == 400


def test_jobs_file_with_explicit_jobs_and_time_unit(bottling_line):
    data = yaml.safe_load(
        """
time_unit: h
transfer_batch: null
orders: [{id: o, quantity: 90}]
jobs: [{id: rework, operations: [[labeler, 0.5], [packer, 0.25]], due: 2}]
"""
    )
    js = parse_jobs(data, bottling_line)
    assert js.time_unit == "h"
    assert js.jobs[0].transfer_batch is None
    assert js.jobs[0].operations[2].duration == pytest.approx(90 * 32 / 3600)
    assert js.jobs[1].id == "rework" and js.jobs[1].due == 2
    with pytest.raises(SpecError, match="time_unit 'kg' is not a unit of time"):
        parse_jobs({"time_unit": "kg", "orders": [{"id": "o", "quantity": 1}]}, bottling_line)
    with pytest.raises(SpecError, match="no orders or jobs"):
        parse_jobs({}, bottling_line)


runner = CliRunner()


def test_cli_schedule_prints_plan_and_writes_json(tmp_path, examples):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "orders:\n  - {id: A, quantity: 60, due: 1 h}\n  - {id: B, quantity: 30, due: 40 min, weight: 3}\n",
        encoding="utf-8",
    )
    out = tmp_path / "plan.json"
    result = runner.invoke(
        app,
        [
            "schedule",
            str(examples / "bottling_line.yaml"),
            "--jobs",
            str(jobs),
            "--objective",
            "tardiness",
            "--time-limit",
            "10",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "OPTIMAL" in result.output
    assert "Gantt" in result.output and "filler" in result.output
    assert "dispatch baseline" in result.output
    saved = json.loads(out.read_text())
    assert saved["status"] == "OPTIMAL"
    assert math.isclose(saved["bound"], saved["objective_value"])
    assert {o["job"] for o in saved["operations"]} == {"A", "B"}


def test_cli_schedule_errors_exit_2_without_traceback(tmp_path, examples):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("orders:\n  - {id: A, quantity: 5, route: [fillr]}\n", encoding="utf-8")
    result = runner.invoke(app, ["schedule", str(examples / "bottling_line.yaml"), "--jobs", str(jobs)])
    assert result.exit_code == 2
    assert "did you mean 'filler'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(
        app, ["schedule", str(examples / "bottling_line.yaml"), "--jobs", str(jobs), "--objective", "cost"]
    )
    assert result.exit_code == 2 and "--objective must be one of" in result.output


def test_stations_are_listed_in_route_order(bottling_line):
    orders = [Order(id="late-label", quantity=10, route=["labeler", "packer"]), Order(id="full", quantity=10)]
    s = solve_schedule(jobs_from_twin(bottling_line, orders).jobs, time_limit=5, workers=1)
    assert s.stations() == list(LINE_MEANS)
    assert list(s.by_station()) == list(LINE_MEANS)


def test_demo_step_shows_optimal_schedule_and_routes(examples):
    from io import StringIO

    from rich.console import Console

    from twinforge.cli.demo import STEPS, Tour
    from twinforge.cli.optimize import optimize_step

    assert "twinforge.cli.optimize:optimize_step" in STEPS
    buffer = StringIO()
    tour = Tour(console=Console(file=buffer, width=100), folder=examples)
    optimize_step(tour)
    text = buffer.getvalue()
    assert "OPTIMAL (proven bound" in text
    assert "the best dispatching rule" in text
    assert "10 deliveries" in text and "independent check: feasible" in text
    assert "Gantt" in text
