"""Vehicle routing with the real solvers (PyVRP, OR-Tools) on instances small enough to enumerate,
the independent feasibility check, VRPLIB files, twins and the ``twinforge route`` command."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.datasets import reference_data_dir
from twinforge.optimize.routing import (
    SOLVERS,
    RoutingError,
    RoutingProblem,
    evaluate_routes,
    haversine_km,
    problem_from_twin,
    read_vrplib,
    read_vrplib_solution,
    solve_routing,
)
from twinforge.spec import loads_spec

# depot at the origin and four customers; capacity 8
POINTS = [(0, 0), (0, 10), (10, 10), (10, 0), (-5, -5)]
DEMANDS = [0, 4, 3, 5, 4]


def euclid_rounded(points: list[tuple[float, float]]) -> np.ndarray:
    return np.array([[round(math.dist(a, b)) for b in points] for a in points], dtype=np.int64)


def four_customers(capacity: int = 8, vehicles: int | None = None) -> RoutingProblem:
    return RoutingProblem(
        name="four",
        ids=["depot", "A", "B", "C", "D"],
        demands=DEMANDS,
        capacity=capacity,
        distances=euclid_rounded(POINTS),
        vehicles=vehicles,
        coordinates=[(float(x), float(y)) for x, y in POINTS],
    )


def all_route_sets(customers: list[int]):
    """Every way to split every visiting order into consecutive routes."""
    for order in itertools.permutations(customers):
        for cuts in itertools.product([False, True], repeat=len(order) - 1):
            routes, current = [], [order[0]]
            for c, cut in zip(order[1:], cuts, strict=True):
                if cut:
                    routes.append(current)
                    current = []
                current.append(c)
            routes.append(current)
            yield routes


def brute_force_cvrp(problem: RoutingProblem) -> int:
    best = math.inf
    d = problem.distances
    for routes in all_route_sets(list(range(1, len(problem.ids)))):
        if problem.vehicles is not None and len(routes) > problem.vehicles:
            continue
        if any(sum(problem.demands[i] for i in r) > problem.capacity for r in routes):
            continue
        total = sum(d[0, r[0]] + sum(d[a, b] for a, b in itertools.pairwise(r)) + d[r[-1], 0] for r in routes)
        best = min(best, total)
    return int(best)


@pytest.mark.parametrize("solver", SOLVERS)
def test_four_customer_cvrp_reaches_the_brute_force_optimum(solver):
    problem = four_customers()
    optimum = brute_force_cvrp(problem)
    # by hand (rounded distances): no three customers fit in one vehicle; of the pairings,
    # A+D (10 + 16 + 7 = 33) with B+C (14 + 10 + 10 = 34) gives 67, better than A+B, C, D (68).
    assert optimum == 67
    plan = solve_routing(problem, solver=solver, time_limit=1)
    assert plan.objective == optimum
    assert plan.feasible and plan.violations == []
    assert sorted(i for r in plan.routes for i in r.indices) == [1, 2, 3, 4]
    assert all(r.load <= 8 for r in plan.routes)
    assert plan.solver == solver


@pytest.mark.parametrize("solver", SOLVERS)
def test_fleet_size_is_respected(solver):
    problem = four_customers(capacity=16, vehicles=1)
    optimum = brute_force_cvrp(problem)
    plan = solve_routing(problem, solver=solver, time_limit=1)
    assert plan.vehicles_used == 1 and plan.objective == optimum


def line_problem(window_c2: tuple[int, int] = (40 * 60, 50 * 60)) -> RoutingProblem:
    """Depot at 0, customers at 10, 20, 30 on a line; 1 distance unit = 1 minute of driving."""
    xs = [0, 10, 20, 30]
    dist = np.array([[abs(a - b) for b in xs] for a in xs], dtype=np.int64)
    return RoutingProblem(
        name="line",
        ids=["depot", "c1", "c2", "c3"],
        demands=[0, 1, 1, 1],
        capacity=10,
        distances=dist,
        durations=dist * 60,
        service_times=[0, 300, 300, 300],
        time_windows=[(0, 100 * 60), (0, 100 * 60), window_c2, (0, 100 * 60)],
    )


def test_evaluate_routes_times_by_hand():
    problem = line_problem()
    plan = evaluate_routes(problem, [[1, 2, 3]])
    (route,) = plan.routes
    # depart 0: c1 at 10, serve to 15, c2 at 25 waits to 40, serve to 45, c3 at 55, serve to 60,
    # back at 90 min. 15 min of waiting can be absorbed by departing at 15 (c2's window allows it).
    assert plan.feasible
    assert plan.objective == 60
    assert route.start == 15 * 60
    assert route.arrivals == [25 * 60, 40 * 60, 55 * 60]
    assert route.end == 90 * 60
    assert route.duration == 75 * 60
    assert route.load == 3


def test_evaluate_routes_lists_every_broken_rule():
    problem = line_problem(window_c2=(10 * 60, 20 * 60))
    problem.max_route_duration = 60 * 60
    problem.vehicles = 1
    plan = evaluate_routes(problem, [[3, 2], [2]])
    text = "\n".join(plan.violations)
    assert not plan.feasible
    assert "2 routes but only 1 vehicles" in text
    assert "customer c2 is visited by routes 1 and 2" in text
    assert "route 1: c2 served at 00:45, after its window closes at 00:20" in text
    assert "1 customer(s) not served: c1" in text
    # c3 reached at 30 min, served to 35, c2 at 45, served to 50, back at 70 min: 1.17 h
    assert "route 1: lasts 1.17 h > max route duration 1.00 h" in text
    over = evaluate_routes(four_customers(), [[1, 2, 3, 4]])
    assert "route 1 carries 16 > capacity 8" in "\n".join(over.violations)


@pytest.mark.parametrize("solver", SOLVERS)
def test_time_windows_are_respected(solver):
    # c3 must be served first (window 30-40 min) although c1 is nearer: distance-optimal order
    # 1-2-3 would reach c3 at 55 min
    problem = line_problem(window_c2=(0, 100 * 60))
    problem.time_windows[3] = (30 * 60, 40 * 60)  # type: ignore[index]
    plan = solve_routing(problem, solver=solver, time_limit=1)
    assert plan.feasible
    served = {s: t for r in plan.routes for s, t in zip(r.stops, r.arrivals or [], strict=True)}
    assert 30 * 60 <= served["c3"] <= 40 * 60
    for name, t in served.items():
        lo, hi = problem.time_windows[problem.ids.index(name)]  # type: ignore[index]
        assert lo <= t <= hi


def test_impossible_windows_are_reported():
    problem = line_problem(window_c2=(0, 60))  # c2 is 20 min away but closes after 1 min
    with pytest.raises(RoutingError, match="no feasible plan"):
        solve_routing(problem, time_limit=1)


def test_problem_checks_capacity_and_fleet():
    with pytest.raises(RoutingError, match="demand of C exceeds the vehicle capacity 4"):
        four_customers(capacity=4)
    with pytest.raises(RoutingError, match="needs at least 2 vehicles of capacity 8; the depot has 1"):
        four_customers(vehicles=1)


def test_haversine():
    assert haversine_km(48.0, 11.0, 49.0, 11.0) == pytest.approx(2 * math.pi * 6371.0088 / 360, rel=1e-9)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * 6371.0088)
    # Munich - Berlin, about 504 km as the crow flies
    assert haversine_km(48.1374, 11.5755, 52.5200, 13.4050) == pytest.approx(504, abs=2)


def test_delivery_twin_is_routed_within_its_windows(examples):
    from twinforge.spec import load_spec

    spec = load_spec(examples / "delivery.yaml")
    problem = problem_from_twin(spec)
    assert problem.ids[0] == "depot" and problem.customers == 10
    assert problem.capacity == 60 and problem.vehicles == 3
    assert problem.demands[problem.ids.index("augustiner_keller")] == 24
    i = problem.ids.index("augustiner_keller")
    assert problem.time_windows[i] == (7 * 3600, 10 * 3600)  # type: ignore[index]
    assert problem.service_times[i] == 20 * 60  # type: ignore[index]
    assert problem.time_windows[problem.ids.index("haidhausen_shop")] == (6 * 3600, 16 * 3600)  # type: ignore[index]
    km = haversine_km(48.1400, 11.5030, 48.1445, 11.5517)
    assert problem.distances[0, i] == round(km * 1000)
    assert problem.durations[0, i] == round(km / 28 * 3600)  # type: ignore[index]
    plan = solve_routing(problem, time_limit=1, seed=1)
    assert plan.feasible and plan.vehicles_used <= 3
    assert plan.cost == pytest.approx(plan.distance * 0.85)
    assert plan.currency == "EUR" and plan.distance_unit == "km"
    for r in plan.routes:
        assert r.load <= 60
        for stop, t in zip(r.stops, r.arrivals or [], strict=True):
            lo, hi = problem.time_windows[problem.ids.index(stop)]  # type: ignore[index]
            assert lo <= t <= hi
        assert (r.duration or 0) <= 8 * 3600


TWIN_HEAD = """
twinforge: 1
name: bad-deliveries
products: [a, b]
nodes:
"""


def twin(nodes: str):
    return loads_spec(TWIN_HEAD + nodes + "edges: []\n")


def test_twin_errors_name_the_problem():
    depot = "  - {id: d, kind: depot, location: {x: 0, y: 0}, parameters: {vehicle_capacity: 10}}\n"
    with pytest.raises(RoutingError, match="customer 'c1' has no location"):
        problem_from_twin(twin(depot + "  - {id: c1, kind: customer, parameters: {demand: 2}}\n"))
    with pytest.raises(RoutingError, match="mix x/y and lat/lon"):
        problem_from_twin(
            twin(
                depot + "  - {id: c1, kind: customer, location: {lat: 1, lon: 2}, parameters: {demand: 2}}\n"
            )
        )
    with pytest.raises(RoutingError, match="needs both x and y"):
        problem_from_twin(
            twin(depot + "  - {id: c1, kind: customer, location: {x: 1}, parameters: {demand: 2}}\n")
        )
    with pytest.raises(RoutingError, match="has 0 depots; routing needs a node of kind 'depot'"):
        problem_from_twin(
            twin("  - {id: c1, kind: customer, location: {x: 1, y: 1}, parameters: {demand: 2}}\n")
        )
    with pytest.raises(RoutingError, match=r"has 2 depots \(d, e\); choose one"):
        problem_from_twin(twin(depot + depot.replace("id: d", "id: e")))
    with pytest.raises(RoutingError, match="'c1' is not a depot"):
        problem_from_twin(twin(depot), depot="c1")
    no_cap = "  - {id: d, kind: depot, location: {x: 0, y: 0}}\n"
    with pytest.raises(RoutingError, match="depot 'd' has no vehicle_capacity"):
        problem_from_twin(
            twin(no_cap + "  - {id: c1, kind: customer, location: {x: 1, y: 1}, parameters: {demand: 2}}\n")
        )
    with pytest.raises(RoutingError, match="no customer with demand > 0"):
        problem_from_twin(twin(depot))
    with pytest.raises(RoutingError, match="exceeds the vehicle capacity 10"):
        problem_from_twin(
            twin(depot + "  - {id: c1, kind: customer, location: {x: 1, y: 1}, parameters: {demand: 12}}\n")
        )


def test_twin_demand_sums_products_and_skips_zero_demand():
    spec = twin(
        "  - {id: d, kind: depot, location: {x: 0, y: 0}, parameters: {vehicle_capacity: 10, vehicles: 2}}\n"
        "  - {id: c1, kind: customer, location: {x: 3, y: 4}, parameters: {demand: {by_product: {a: 2, b: 1.5}}}}\n"
        "  - {id: c2, kind: customer, location: {x: 0, y: 1}}\n"
    )
    problem = problem_from_twin(spec, road_factor=1.2)
    assert problem.ids == ["d", "c1"]
    assert problem.demands == [0, 4]  # 3.5 items rounded up
    assert problem.distances[0, 1] == 6000  # 5 km x 1.2, in metres
    assert problem.time_windows is None  # no windows, no service times: pure CVRP
    assert any("c2" in n for n in problem.notes) and any("rounded up" in n for n in problem.notes)


TINY_VRP = """NAME : tiny
TYPE : CVRP
DIMENSION : 5
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 8
NODE_COORD_SECTION
1 0 0
2 0 10
3 10 10
4 10 0
5 -5 -5
DEMAND_SECTION
1 0
2 4
3 3
4 5
5 4
DEPOT_SECTION
1
-1
EOF
"""


def test_vrplib_file_round_trip(tmp_path):
    f = tmp_path / "tiny.vrp"
    f.write_text(TINY_VRP, encoding="utf-8")
    problem = read_vrplib(f)
    assert problem.name == "tiny" and problem.capacity == 8 and problem.demands == DEMANDS
    assert problem.distances[1, 2] == 10 and problem.distances[0, 2] == 14  # 14.14 rounds to 14
    assert problem.distances[0, 4] == 7  # 7.07
    assert problem.vehicles is None
    plan = solve_routing(problem, time_limit=1)
    assert plan.objective == brute_force_cvrp(problem)
    sol = tmp_path / "tiny.sol"
    sol.write_text("Route #1: 1 4\nRoute #2: 2 3\nCost 67\n", encoding="utf-8")
    known = read_vrplib_solution(sol)
    assert known.routes == [[1, 4], [2, 3]] and known.cost == 67
    evaluated = evaluate_routes(problem, known.routes)
    assert evaluated.objective == 67 and evaluated.feasible
    with pytest.raises(RoutingError, match="file not found"):
        read_vrplib(tmp_path / "missing.vrp")


CVRP_DIR = reference_data_dir() / "cvrp"


@pytest.mark.skipif(not CVRP_DIR.is_dir(), reason=f"CVRP reference data not found at {CVRP_DIR}")
def test_best_known_solution_costs_follow_the_rounding_convention():
    problem = read_vrplib(CVRP_DIR / "X-n101-k25.vrp")
    known = read_vrplib_solution(CVRP_DIR / "X-n101-k25.sol")
    plan = evaluate_routes(problem, known.routes)
    assert plan.feasible
    assert plan.objective == known.cost == 27591


runner = CliRunner()


def test_cli_route_twin_and_vrp(tmp_path, examples):
    result = runner.invoke(app, ["route", str(examples / "delivery.yaml"), "--time-limit", "1"])
    assert result.exit_code == 0, result.output
    assert "feasible" in result.output and "augustiner_keller" in result.output and "EUR" in result.output
    f = tmp_path / "tiny.vrp"
    f.write_text(TINY_VRP, encoding="utf-8")
    (tmp_path / "tiny.sol").write_text("Route #1: 1 4\nRoute #2: 2 3\nCost 67\n", encoding="utf-8")
    result = runner.invoke(app, ["route", "--vrp", str(f), "--time-limit", "1", "--solver", "ortools"])
    assert result.exit_code == 0, result.output
    assert "67" in result.output and "gap +0.00 %" in result.output


def test_cli_route_errors_exit_2(examples):
    result = runner.invoke(app, ["route"])
    assert result.exit_code == 2 and "give either a TWIN file or --vrp" in result.output
    result = runner.invoke(app, ["route", str(examples / "bottling_line.yaml")])
    assert result.exit_code == 2 and "has 0 depots" in result.output
    assert "Traceback" not in result.output
