"""Vehicle routing on the twin: capacitated VRP and VRP with time windows from one depot.

A :class:`RoutingProblem` holds integer distances (and travel times) between a depot (index 0)
and customers (1..n), demands, the vehicle capacity and fleet size, service times and time
windows. Build one from a twin (:func:`problem_from_twin`: the ``depot`` node and its
``customer`` nodes with locations) or from a TSPLIB/CVRPLIB ``.vrp`` file (:func:`read_vrplib`).

:func:`solve_routing` solves it with PyVRP (iterated local search, the state of the art for
CVRP; the default, chosen on ``benchmarks/cvrp.py``) or OR-Tools routing (guided local search).
Every plan is evaluated by :func:`evaluate_routes`, independently of the solver: it recomputes
distances, loads and the time schedule from the problem and lists every violated rule
(capacity, time windows, route duration, fleet size, customers missed or served twice).

Units: twin distances are in km (``location`` x/y are read as km; lat/lon use the haversine
great-circle distance) and are stored in metres; times are in seconds. VRPLIB files keep their
own units with the CVRPLIB convention of rounding each Euclidean distance to the nearest integer.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from twinforge.errors import TwinforgeError
from twinforge.optimize._twin import twin_has, twin_value
from twinforge.spec import TwinSpec

Solver = Literal["pyvrp", "ortools"]
SOLVERS: tuple[str, ...] = ("pyvrp", "ortools")
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


class RoutingError(TwinforgeError):
    """A routing problem that cannot be built or solved."""


# -- problem -----------------------------------------------------------------------------------


@dataclass
class RoutingProblem:
    """One depot (index 0) and customers 1..n with integer distances and times.

    ``distances[i][j]`` are integers in ``1 / distance_scale`` of ``distance_unit`` (metres for
    twins: scale 1000 per km); ``durations`` are travel times in seconds (``None`` without time
    constraints). ``time_windows`` (seconds) include the depot's opening hours at index 0.
    ``vehicles`` is the fleet size (``None``: as many as needed).
    """

    name: str
    ids: list[str]
    demands: list[int]
    capacity: int
    distances: np.ndarray
    vehicles: int | None = None
    durations: np.ndarray | None = None
    service_times: list[int] | None = None
    time_windows: list[tuple[int, int]] | None = None
    max_route_duration: int | None = None
    coordinates: list[tuple[float, float]] | None = None
    distance_unit: str = ""
    distance_scale: float = 1.0
    cost_per_distance: float = 1.0
    currency: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.distances = np.asarray(self.distances, dtype=np.int64)
        if self.distances.shape != (n, n):
            raise RoutingError(f"distance matrix is {self.distances.shape}, expected {n}x{n} for {n} nodes")
        if len(self.demands) != n:
            raise RoutingError(f"{len(self.demands)} demands for {n} nodes")
        if self.durations is not None:
            self.durations = np.asarray(self.durations, dtype=np.int64)
            if self.durations.shape != (n, n):
                raise RoutingError(f"duration matrix is {self.durations.shape}, expected {n}x{n}")
        if self.time_windows is not None and len(self.time_windows) != n:
            raise RoutingError(f"{len(self.time_windows)} time windows for {n} nodes")
        if self.service_times is not None and len(self.service_times) != n:
            raise RoutingError(f"{len(self.service_times)} service times for {n} nodes")
        if self.capacity <= 0:
            raise RoutingError(f"vehicle capacity must be positive, got {self.capacity}")
        too_big = [self.ids[i] for i in range(1, n) if self.demands[i] > self.capacity]
        if too_big:
            raise RoutingError(
                f"demand of {', '.join(too_big[:5])}{' ...' if len(too_big) > 5 else ''} exceeds the vehicle "
                f"capacity {self.capacity}; split such deliveries or use larger vehicles"
            )
        if self.vehicles is not None:
            need = math.ceil(sum(self.demands[1:]) / self.capacity)
            if need > self.vehicles:
                raise RoutingError(
                    f"total demand {sum(self.demands[1:])} needs at least {need} vehicles of capacity "
                    f"{self.capacity}; the depot has {self.vehicles}"
                )

    @property
    def customers(self) -> int:
        return len(self.ids) - 1

    @property
    def timed(self) -> bool:
        """Whether time (windows, route duration) matters."""
        return self.time_windows is not None or self.max_route_duration is not None

    def distance_value(self, ticks: float) -> float:
        """Integer matrix units to ``distance_unit``."""
        return ticks / self.distance_scale


# -- result ------------------------------------------------------------------------------------


class Route(BaseModel):
    """One vehicle's tour from the depot and back: stops in order, load, distance and times."""

    vehicle: int
    stops: list[str]
    indices: list[int]
    load: int
    distance: float
    cost: float
    start: float | None = None  # departure from the depot (s), timed problems only
    arrivals: list[float] | None = None  # start of service at each stop (s)
    end: float | None = None  # return to the depot (s)
    duration: float | None = None  # shortest duration achievable by departing late (s)


class RoutePlan(BaseModel):
    """Routes for a problem with totals and the independent feasibility check."""

    problem: str
    solver: str
    routes: list[Route]
    distance: float
    cost: float
    distance_unit: str
    currency: str = ""
    vehicles_used: int
    feasible: bool
    violations: list[str] = Field(default_factory=list)
    solve_time: float = 0.0
    objective: int = Field(description="Total distance in integer matrix units (what the solver minimised)")

    def gap_to(self, reference_cost: float) -> float:
        """Relative excess of this plan's integer distance over a reference (e.g. best known)."""
        return (self.objective - reference_cost) / reference_cost


# -- independent evaluation ---------------------------------------------------------------------


def evaluate_routes(
    problem: RoutingProblem, routes: Sequence[Sequence[int]], *, solver: str = ""
) -> RoutePlan:
    """Evaluate routes (lists of customer indices 1..n, depot excluded) from the problem data only.

    Distances are summed from the matrix; the time schedule departs the depot at its opening
    time, waits for windows to open and is then shifted to the latest departure that keeps the
    same return time (the shortest duration). Every violated rule is listed in ``violations``.
    """
    violations: list[str] = []
    n = len(problem.ids)
    seen: dict[int, int] = {}
    out: list[Route] = []
    routes = [list(r) for r in routes if len(r) > 0]
    if problem.vehicles is not None and len(routes) > problem.vehicles:
        violations.append(f"{len(routes)} routes but only {problem.vehicles} vehicles")
    total = 0
    for v, route in enumerate(routes):
        for i in route:
            if not 1 <= i < n:
                violations.append(f"route {v + 1}: node index {i} is not a customer (1..{n - 1})")
        route = [i for i in route if 1 <= i < n]
        for i in route:
            if i in seen:
                violations.append(f"customer {problem.ids[i]} is visited by routes {seen[i] + 1} and {v + 1}")
            seen[i] = v
        path = [0, *route, 0]
        dist = int(sum(problem.distances[a, b] for a, b in itertools.pairwise(path)))
        total += dist
        load = int(sum(problem.demands[i] for i in route))
        if load > problem.capacity:
            violations.append(f"route {v + 1} carries {load} > capacity {problem.capacity}")
        r = Route(
            vehicle=v + 1,
            stops=[problem.ids[i] for i in route],
            indices=route,
            load=load,
            distance=problem.distance_value(dist),
            cost=problem.distance_value(dist) * problem.cost_per_distance,
        )
        if problem.timed:
            _schedule_route(problem, r, path, violations)
        out.append(r)
    missing = [problem.ids[i] for i in range(1, n) if i not in seen]
    if missing:
        violations.append(
            f"{len(missing)} customer(s) not served: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
        )
    distance = problem.distance_value(total)
    return RoutePlan(
        problem=problem.name,
        solver=solver,
        routes=out,
        distance=distance,
        cost=distance * problem.cost_per_distance,
        distance_unit=problem.distance_unit,
        currency=problem.currency,
        vehicles_used=len(out),
        feasible=not violations,
        violations=violations,
        objective=total,
    )


def _forward(problem: RoutingProblem, path: list[int], depart: float) -> tuple[list[float], list[int], float]:
    """Service start at each stop, waiting before each stop, and return time for a departure."""
    tw = problem.time_windows or [(0, 2**62)] * len(problem.ids)
    service = problem.service_times or [0] * len(problem.ids)
    travel = problem.durations if problem.durations is not None else np.zeros_like(problem.distances)
    t = depart + service[0]
    starts: list[float] = []
    waits: list[int] = []
    for a, b in itertools.pairwise(path):
        t += int(travel[a, b])
        if b == 0:
            break
        wait = max(0, tw[b][0] - t)
        t += wait
        waits.append(int(wait))
        starts.append(float(t))
        t += service[b]
    return starts, waits, float(t)


def _schedule_route(problem: RoutingProblem, r: Route, path: list[int], violations: list[str]) -> None:
    """Time schedule of one route. Departing at the depot's opening gives the earliest service
    times (the best chance to meet every window); the reported schedule departs as late as
    possible without returning later (shortest duration), which keeps every window met."""
    tw = problem.time_windows or [(0, 2**62)] * len(problem.ids)
    t0 = tw[0][0]
    starts, waits, end = _forward(problem, path, t0)
    stops = path[1:-1]
    latest_shift = math.inf
    waited = 0
    for b, t, w in zip(stops, starts, waits, strict=True):
        waited += w
        if t > tw[b][1]:
            violations.append(
                f"route {r.vehicle}: {problem.ids[b]} served at {_clock(t)}, after its window closes at "
                f"{_clock(tw[b][1])}"
            )
        latest_shift = min(latest_shift, tw[b][1] - t + waited)
    if end > tw[0][1]:
        violations.append(
            f"route {r.vehicle}: returns at {_clock(end)}, after the depot closes at {_clock(tw[0][1])}"
        )
    shift = max(0.0, min(waited, latest_shift))
    duration = end - t0 - shift
    if problem.max_route_duration is not None and duration > problem.max_route_duration:
        violations.append(
            f"route {r.vehicle}: lasts {duration / 3600:.2f} h > max route duration "
            f"{problem.max_route_duration / 3600:.2f} h"
        )
    if shift > 0:
        starts, _, end = _forward(problem, path, t0 + shift)
    r.start, r.arrivals, r.end, r.duration = float(t0 + shift), starts, float(end), float(duration)


def _clock(seconds: float) -> str:
    """Seconds from the start of the horizon as day/hh:mm."""
    s = round(seconds)
    day, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    text = f"{h:02d}:{rest // 60:02d}"
    return f"day {day + 1} {text}" if day else text


def clock(seconds: float) -> str:
    """Public helper: seconds since the start of day 1 as ``hh:mm`` (``day N hh:mm`` after day 1)."""
    return _clock(seconds)


# -- solvers -----------------------------------------------------------------------------------


def solve_routing(
    problem: RoutingProblem,
    *,
    solver: Solver = "pyvrp",
    time_limit: float = 10.0,
    seed: int = 0,
) -> RoutePlan:
    """Routes of least total distance serving every customer, checked by :func:`evaluate_routes`.

    ``solver``: ``"pyvrp"`` (default; best on the CVRP benchmark) or ``"ortools"``. Both stop at
    ``time_limit`` seconds. Raises :class:`RoutingError` when no feasible plan is found, with the
    violated rules of the best plan.
    """
    if solver not in SOLVERS:
        raise RoutingError(f"unknown solver {solver!r}; expected one of {', '.join(SOLVERS)}")
    if not (time_limit > 0 and math.isfinite(time_limit)):
        raise RoutingError(f"time_limit must be a positive number of seconds, got {time_limit}")
    if problem.customers == 0:
        return evaluate_routes(problem, [], solver=solver)
    started = time.perf_counter()
    routes = (
        _solve_pyvrp(problem, time_limit, seed) if solver == "pyvrp" else _solve_ortools(problem, time_limit)
    )
    plan = evaluate_routes(problem, routes, solver=solver)
    plan.solve_time = time.perf_counter() - started
    if not plan.feasible:
        raise RoutingError(
            f"{solver} found no feasible plan within {time_limit:g} s; the best plan breaks:\n"
            + "\n".join(f"  - {v}" for v in plan.violations[:10])
        )
    return plan


def _horizon(problem: RoutingProblem) -> int:
    if problem.time_windows is not None:
        return int(max(b for _, b in problem.time_windows))
    travel = int(problem.durations.max()) if problem.durations is not None else 0
    service = sum(problem.service_times or [0])
    return travel * len(problem.ids) + service + 1


def _solve_pyvrp(problem: RoutingProblem, time_limit: float, seed: int) -> list[list[int]]:
    from pyvrp import Model
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import MaxRuntime

    m = Model()
    coords = problem.coordinates or [(0.0, 0.0)] * len(problem.ids)
    tw = problem.time_windows
    service = problem.service_times or [0] * len(problem.ids)
    big = _horizon(problem) if problem.timed else 2**62
    depot_loc = m.add_location(coords[0][0], coords[0][1], name=problem.ids[0])
    depot = m.add_depot(
        depot_loc, tw_early=tw[0][0] if tw else 0, tw_late=tw[0][1] if tw else big, name=problem.ids[0]
    )
    locations = [depot_loc]
    for i in range(1, len(problem.ids)):
        loc = m.add_location(coords[i][0], coords[i][1], name=problem.ids[i])
        locations.append(loc)
        m.add_client(
            loc,
            delivery=[int(problem.demands[i])],
            service_duration=int(service[i]),
            tw_early=tw[i][0] if tw else 0,
            tw_late=tw[i][1] if tw else big,
            name=problem.ids[i],
        )
    m.add_vehicle_type(
        num_available=problem.vehicles if problem.vehicles is not None else problem.customers,
        capacity=[int(problem.capacity)],
        start_depot=depot,
        end_depot=depot,
        tw_early=tw[0][0] if tw else 0,
        tw_late=tw[0][1] if tw else big,
        shift_duration=problem.max_route_duration if problem.max_route_duration is not None else 2**62,
    )
    dur = problem.durations if problem.timed else None
    for a, la in enumerate(locations):
        for b, lb in enumerate(locations):
            if a != b:
                m.add_edge(
                    la,
                    lb,
                    distance=int(problem.distances[a, b]),
                    duration=int(dur[a, b]) if dur is not None else 0,
                )
    with warnings.catch_warnings():
        # PyVRP warns when it struggles to reach feasibility; evaluate_routes reports that precisely
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = m.solve(stop=MaxRuntime(time_limit), seed=seed, display=False)
    routes = []
    for route in result.best.routes():
        routes.append([act.idx + 1 for act in route if act.is_client()])
    return routes


def _solve_ortools(problem: RoutingProblem, time_limit: float) -> list[list[int]]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(problem.ids)
    vehicles = problem.vehicles if problem.vehicles is not None else problem.customers
    manager = pywrapcp.RoutingIndexManager(n, vehicles, 0)
    model = pywrapcp.RoutingModel(manager)
    dist_cb = model.RegisterTransitMatrix(problem.distances.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(dist_cb)
    demand_cb = model.RegisterUnaryTransitVector([int(d) for d in problem.demands])
    model.AddDimensionWithVehicleCapacity(demand_cb, 0, [int(problem.capacity)] * vehicles, True, "load")
    if problem.timed:
        service = problem.service_times or [0] * n
        travel = problem.durations if problem.durations is not None else np.zeros((n, n), dtype=np.int64)
        # time spent from leaving i's service start to reaching j: service at i plus travel
        transit = (travel + np.asarray(service, dtype=np.int64)[:, None]).tolist()
        time_cb = model.RegisterTransitMatrix(transit)
        horizon = _horizon(problem)
        model.AddDimension(time_cb, horizon, horizon, False, "time")
        time_dim = model.GetDimensionOrDie("time")
        tw = problem.time_windows or [(0, horizon)] * n
        for i in range(1, n):
            time_dim.CumulVar(manager.NodeToIndex(i)).SetRange(int(tw[i][0]), int(tw[i][1]))
        for v in range(vehicles):
            time_dim.CumulVar(model.Start(v)).SetRange(int(tw[0][0]), int(tw[0][1]))
            time_dim.CumulVar(model.End(v)).SetRange(int(tw[0][0]), int(tw[0][1]))
            model.AddVariableMinimizedByFinalizer(time_dim.CumulVar(model.End(v)))
            model.AddVariableMaximizedByFinalizer(time_dim.CumulVar(model.Start(v)))
            if problem.max_route_duration is not None:
                time_dim.SetSpanUpperBoundForVehicle(int(problem.max_route_duration), v)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
        if problem.timed
        else routing_enums_pb2.FirstSolutionStrategy.SAVINGS
    )
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit * 1000)))
    solution = model.SolveWithParameters(params)
    if solution is None:
        raise RoutingError(f"ortools found no feasible plan within {time_limit:g} s")
    routes = []
    for v in range(vehicles):
        index = solution.Value(model.NextVar(model.Start(v)))
        route = []
        while not model.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(model.NextVar(index))
        if route:
            routes.append(route)
    return routes


# -- VRPLIB files ------------------------------------------------------------------------------


def read_vrplib(path: str | Path, *, distance_scale: float = 1.0) -> RoutingProblem:
    """Read a TSPLIB/CVRPLIB ``.vrp`` file (CVRP; VRPTW with time windows and service times).

    Euclidean distances are multiplied by ``distance_scale`` and rounded to the nearest integer:
    the CVRPLIB convention with the default 1 (best known solutions of the X instances use it).
    """
    import vrplib

    p = Path(path)
    try:
        data = vrplib.read_instance(str(p))
    except FileNotFoundError:
        raise RoutingError(f"cannot read {path}: file not found") from None
    except Exception as exc:  # vrplib raises assorted errors on malformed files
        raise RoutingError(f"cannot read {path} as a VRPLIB instance: {exc}") from None
    for key in ("edge_weight", "demand", "capacity"):
        if key not in data:
            raise RoutingError(f"{path} has no {key.upper()} section; a CVRP instance needs it")
    depots = np.atleast_1d(np.asarray(data.get("depot", [0])))
    if len(depots) != 1 or int(depots[0]) != 0:
        raise RoutingError(f"{path}: only one depot, listed first, is supported (found {depots.tolist()})")
    weights = np.asarray(data["edge_weight"], dtype=float) * distance_scale
    distances = np.rint(weights).astype(np.int64)
    n = len(distances)
    coords = [tuple(map(float, xy)) for xy in data["node_coord"]] if "node_coord" in data else None
    tw = None
    if "time_window" in data:
        tw = [(round(a * distance_scale), round(b * distance_scale)) for a, b in data["time_window"]]
    service = None
    if "service_time" in data:
        st = np.broadcast_to(np.asarray(data["service_time"], dtype=float), (n,))
        service = [round(s * distance_scale) for s in st]
    vehicles = int(data["vehicles"]) if "vehicles" in data else None
    demands = [int(d) for d in np.asarray(data["demand"]).tolist()]
    return RoutingProblem(
        name=str(data.get("name", p.stem)),
        ids=["depot", *[str(i) for i in range(1, n)]],
        demands=demands,
        capacity=int(data["capacity"]),
        distances=distances,
        vehicles=vehicles,
        durations=distances.copy() if tw is not None else None,
        service_times=service,
        time_windows=tw,
        coordinates=coords,
        distance_unit="",
        distance_scale=float(distance_scale),
    )


@dataclass
class VrplibSolution:
    routes: list[list[int]]
    cost: float


def read_vrplib_solution(path: str | Path) -> VrplibSolution:
    """Read a CVRPLIB ``.sol`` file: routes (customer numbers 1..n) and the ``Cost`` line."""
    import vrplib

    try:
        data = vrplib.read_solution(str(path))
    except FileNotFoundError:
        raise RoutingError(f"cannot read {path}: file not found") from None
    except Exception as exc:
        raise RoutingError(f"cannot read {path} as a VRPLIB solution: {exc}") from None
    if "cost" not in data:
        raise RoutingError(f"{path} has no 'Cost' line")
    return VrplibSolution(routes=[list(map(int, r)) for r in data["routes"]], cost=float(data["cost"]))


# -- twins -------------------------------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _total_demand(spec: TwinSpec, node_id: str) -> float:
    """Demand per day summed over products (item/day)."""
    node = spec.node(node_id)
    p = node.parameters.get("demand")
    if p is not None and p.by_product:
        unit = p.unit or "item/day"
        from twinforge.spec import units

        return sum(units.convert(v, unit, "item/day") for v in p.by_product.values())
    return twin_value(spec, node_id, "demand", unit="item/day")


def problem_from_twin(
    spec: TwinSpec, depot: str | None = None, *, road_factor: float = 1.0
) -> RoutingProblem:
    """A routing problem from a twin's ``depot`` and ``customer`` nodes.

    Each customer with demand gets one delivery of one day of its demand (summed over products).
    Locations are x/y in km (Euclidean) or lat/lon (haversine); ``road_factor`` scales straight-line
    distances to road distances (e.g. 1.3). Travel time uses the depot's ``speed``; time windows
    come from ``time_window_start``/``time_window_end`` (hours), service from ``service_time``.
    Raises :class:`RoutingError` listing every problem found.
    """
    problems: list[str] = []
    depots = [n.id for n in spec.nodes if n.kind == "depot"]
    if depot is None:
        if len(depots) != 1:
            raise RoutingError(
                f"twin {spec.name!r} has {len(depots)} depots"
                + (
                    f" ({', '.join(depots)}); choose one"
                    if depots
                    else "; routing needs a node of kind 'depot'"
                )
            )
        depot = depots[0]
    elif depot not in depots:
        raise RoutingError(
            f"{depot!r} is not a depot of twin {spec.name!r}; depots: {', '.join(depots) or 'none'}"
        )
    if not road_factor >= 1.0:
        raise RoutingError(
            f"road_factor must be at least 1 (road distance >= straight line), got {road_factor}"
        )
    customers = [n.id for n in spec.nodes if n.kind == "customer"]
    demand = {c: _total_demand(spec, c) for c in customers}
    served = [c for c in customers if demand[c] > 0]
    skipped = [c for c in customers if demand[c] <= 0]
    if not served:
        problems.append(f"twin {spec.name!r} has no customer with demand > 0")

    ids = [depot, *served]
    locs = []
    for i in ids:
        loc = spec.node(i).location
        kind = spec.node(i).kind
        if loc is None:
            problems.append(
                f"{kind} {i!r} has no location; give location: {{x: .., y: ..}} (km) or {{lat: .., lon: ..}}"
            )
            locs.append(None)
            continue
        has_xy = loc.x is not None and loc.y is not None
        has_ll = loc.lat is not None and loc.lon is not None
        if not has_xy and not has_ll:
            problems.append(f"{kind} {i!r} location needs both x and y (km) or both lat and lon")
            locs.append(None)
        else:
            locs.append(("xy", loc.x, loc.y) if has_xy else ("ll", loc.lat, loc.lon))
    kinds = {loc[0] for loc in locs if loc is not None}
    if len(kinds) > 1:
        problems.append(
            "locations mix x/y and lat/lon; use one coordinate system for the depot and all customers"
        )
    capacity = None
    if not twin_has(spec, depot, "vehicle_capacity"):
        problems.append(f"depot {depot!r} has no vehicle_capacity (items per vehicle)")
    else:
        capacity = twin_value(spec, depot, "vehicle_capacity", unit="item")
        if capacity < 1:
            problems.append(f"depot {depot!r} vehicle_capacity must be at least 1 item, got {capacity:g}")
    day_start, day_end = (
        twin_value(spec, depot, "time_window_start", unit="s"),
        twin_value(spec, depot, "time_window_end", unit="s"),
    )
    if day_end <= day_start:
        problems.append(
            f"depot {depot!r} closes ({day_end / 3600:g} h) before it opens ({day_start / 3600:g} h)"
        )
    windows = [(round(day_start), round(day_end))]
    timed = False
    for c in served:
        has_a, has_b = twin_has(spec, c, "time_window_start"), twin_has(spec, c, "time_window_end")
        a = twin_value(spec, c, "time_window_start", unit="s") if has_a else day_start
        b = twin_value(spec, c, "time_window_end", unit="s") if has_b else day_end
        timed |= has_a or has_b
        if b < a:
            problems.append(
                f"customer {c!r} time window ends ({b / 3600:g} h) before it starts ({a / 3600:g} h)"
            )
        windows.append((round(a), round(b)))
    if problems:
        raise RoutingError(
            f"cannot build a routing problem from twin {spec.name!r}:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    assert capacity is not None
    n = len(ids)
    km = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            kind, u1, v1 = locs[a]  # type: ignore[misc]
            _, u2, v2 = locs[b]  # type: ignore[misc]
            km[a, b] = haversine_km(u1, v1, u2, v2) if kind == "ll" else math.hypot(u2 - u1, v2 - v1)
    km *= road_factor
    speed = twin_value(spec, depot, "speed", unit="km/h")
    seconds = np.rint(km / speed * 3600).astype(np.int64)
    service = [0] + [round(twin_value(spec, c, "service_time", unit="s")) for c in served]
    max_duration = (
        round(twin_value(spec, depot, "max_route_duration", unit="s"))
        if twin_has(spec, depot, "max_route_duration")
        else None
    )
    notes = []
    if skipped:
        notes.append(f"customers without demand are not visited: {', '.join(skipped)}")
    quantities = []
    for c in served:
        q = math.ceil(demand[c] - 1e-9)
        if abs(q - demand[c]) > 1e-9:
            notes.append(f"{c}: demand {demand[c]:g} items rounded up to {q}")
        quantities.append(q)
    timed = timed or max_duration is not None or any(service)
    return RoutingProblem(
        name=spec.name,
        ids=ids,
        demands=[0, *quantities],
        capacity=math.floor(capacity + 1e-9),
        distances=np.rint(km * 1000).astype(np.int64),
        vehicles=round(twin_value(spec, depot, "vehicles")),
        durations=seconds,
        service_times=service,
        time_windows=windows if timed else None,
        max_route_duration=max_duration,
        coordinates=[(float(loc[1]), float(loc[2])) for loc in locs],  # type: ignore[index]
        distance_unit="km",
        distance_scale=1000.0,
        cost_per_distance=twin_value(spec, depot, "cost_per_km"),
        currency=spec.currency,
        notes=notes,
    )
