"""Scheduling with the real CP-SAT solver on small instances whose optima are known by hand or by
exhaustive enumeration."""

from __future__ import annotations

import itertools
import math

import pytest

from twinforge.optimize.scheduling import (
    DISPATCH_RULES,
    Job,
    Operation,
    Schedule,
    ScheduledOperation,
    ScheduleError,
    best_dispatch,
    check_schedule,
    dispatch_schedule,
    planned_operations,
    replay,
    solve_schedule,
)

# ft06 (Fisher & Thompson 1963): 6 jobs x 6 machines, optimum makespan 55 (proven in the literature).
FT06_MACHINES = [
    [2, 0, 1, 3, 5, 4],
    [1, 2, 4, 5, 0, 3],
    [2, 3, 5, 0, 1, 4],
    [1, 0, 2, 3, 4, 5],
    [2, 1, 4, 5, 0, 3],
    [1, 3, 5, 0, 4, 2],
]
FT06_TIMES = [
    [1, 3, 6, 7, 3, 6],
    [8, 5, 10, 10, 10, 4],
    [5, 4, 8, 9, 1, 7],
    [5, 5, 5, 3, 8, 9],
    [9, 3, 5, 4, 3, 1],
    [3, 3, 9, 10, 4, 1],
]


def ft06() -> list[Job]:
    return [
        Job(id=f"J{j}", operations=[(f"M{m}", t) for m, t in zip(ms, ts, strict=True)])
        for j, (ms, ts) in enumerate(zip(FT06_MACHINES, FT06_TIMES, strict=True))
    ]


# A 3x3 job shop; its optimum is found below by enumerating every machine sequence.
JS3 = [
    Job(id="a", operations=[("M1", 3), ("M2", 2), ("M3", 2)]),
    Job(id="b", operations=[("M1", 2), ("M3", 1), ("M2", 4)]),
    Job(id="c", operations=[("M2", 4), ("M3", 3), ("M1", 1)]),
]


def brute_force_makespan(jobs: list[Job]) -> float:
    """Minimum makespan over all machine sequences: each sequence set is evaluated as the
    semi-active schedule it defines (infeasible, i.e. cyclic, sequence sets are skipped)."""
    ops_on: dict[str, list[tuple[str, int]]] = {}
    for j in jobs:
        for k, op in enumerate(j.operations):
            ops_on.setdefault(op.station, []).append((j.id, k))
    stations = sorted(ops_on)
    by_id = {j.id: j for j in jobs}
    best = math.inf
    for orders in itertools.product(*(itertools.permutations(ops_on[s]) for s in stations)):
        seq = dict(zip(stations, orders, strict=True))
        pos = {s: 0 for s in stations}
        nxt = {j.id: 0 for j in jobs}
        free = {s: 0.0 for s in stations}
        done = {j.id: by_id[j.id].release for j in jobs}
        left = sum(len(j.operations) for j in jobs)
        progress = True
        while left and progress:
            progress = False
            for s in stations:
                if pos[s] < len(seq[s]):
                    jid, k = seq[s][pos[s]]
                    if nxt[jid] == k:
                        start = max(free[s], done[jid])
                        free[s] = done[jid] = start + by_id[jid].operations[k].duration
                        pos[s] += 1
                        nxt[jid] += 1
                        left -= 1
                        progress = True
        if not left:
            best = min(best, max(done.values()))
    return best


def test_3x3_job_shop_reaches_the_brute_force_optimum():
    optimum = brute_force_makespan(JS3)
    # By hand: M2 carries 10 units of work, so 10 is a lower bound, but no sequence reaches it;
    # 11 is reached by a: M1 0-3, M2 4-6, M3 9-11 | b: M1 3-5, M3 5-6, M2 6-10 | c: M2 0-4, M3 6-9, M1 9-10.
    assert optimum == 11
    s = solve_schedule(JS3, time_limit=10, workers=1)
    assert s.status == "OPTIMAL"
    assert s.makespan == optimum
    assert s.bound == optimum and s.gap == 0
    assert check_schedule(JS3, s) == []


def test_ft06_proven_optimum_55():
    jobs = ft06()
    s = solve_schedule(jobs, time_limit=30, workers=2)
    assert s.status == "OPTIMAL"
    assert s.makespan == 55
    assert check_schedule(jobs, s) == []
    assert s.solver.startswith("cp-sat")
    assert len(s.operations) == 36


def test_every_dispatching_rule_gives_a_feasible_schedule_no_better_than_optimal():
    jobs = ft06()
    for rule in DISPATCH_RULES:
        s = dispatch_schedule(jobs, rule)
        assert check_schedule(jobs, s) == [], rule
        assert s.makespan >= 55
        assert s.solver == f"dispatch:{rule}"
    best = best_dispatch(jobs)
    assert best.makespan == min(dispatch_schedule(jobs, r).makespan for r in DISPATCH_RULES)
    with pytest.raises(ScheduleError, match="unknown dispatching rule 'XYZ'"):
        dispatch_schedule(jobs, "XYZ")


def test_spt_on_one_machine_orders_by_processing_time():
    jobs = [Job(id=n, operations=[("M", d)]) for n, d in [("long", 5), ("short", 1), ("mid", 3)]]
    s = dispatch_schedule(jobs, "SPT")
    assert [o.job for o in s.by_station()["M"]] == ["short", "mid", "long"]
    assert s.makespan == 9


def brute_force_single_machine_tardiness(jobs: list[Job]) -> float:
    best = math.inf
    for order in itertools.permutations(jobs):
        t, total = 0.0, 0.0
        for j in order:
            t = max(t, j.release) + j.operations[0].duration
            total += j.weight * max(0.0, t - (j.due if j.due is not None else math.inf))
        best = min(best, total)
    return best


def test_weighted_tardiness_matches_enumeration_on_one_machine():
    jobs = [
        Job(id="a", operations=[("M", 4)], due=4, weight=1),
        Job(id="b", operations=[("M", 2)], due=5, weight=3),
        Job(id="c", operations=[("M", 3)], due=6, weight=2),
        Job(id="d", operations=[("M", 1)], due=3, weight=1, release=2),
        Job(id="e", operations=[("M", 2)], due=12, weight=5),
    ]
    optimum = brute_force_single_machine_tardiness(jobs)
    s = solve_schedule(jobs, objective="tardiness", time_limit=10, workers=1)
    assert s.status == "OPTIMAL"
    assert s.objective == "tardiness"
    assert s.weighted_tardiness == pytest.approx(optimum)
    assert s.objective_value == pytest.approx(optimum)
    assert check_schedule(jobs, s) == []
    # per-job outcomes add up
    assert sum(o.weight * o.tardiness for o in s.jobs) == pytest.approx(optimum)
    assert s.outcome("d").completion >= 2 + 1


def test_tardiness_objective_beats_the_makespan_schedule_on_due_dates():
    # two jobs that both need M1 then M2; 'urgent' is due early but is shorter on M1 only
    jobs = [
        Job(id="bulk", operations=[("M1", 2), ("M2", 8)], due=30),
        Job(id="urgent", operations=[("M1", 6), ("M2", 1)], due=8, weight=10),
    ]
    by_makespan = solve_schedule(jobs, objective="makespan", time_limit=5, workers=1)
    by_tardiness = solve_schedule(jobs, objective="tardiness", time_limit=5, workers=1)
    assert by_makespan.makespan == 11  # bulk first: M1 0-2, M2 2-10; urgent M1 2-8, M2 10-11
    assert by_makespan.makespan <= by_tardiness.makespan
    assert by_tardiness.weighted_tardiness == 0  # urgent first: M1 0-6, M2 6-7; bulk M2 8-16
    assert by_tardiness.outcome("urgent").completion == 7
    assert by_tardiness.makespan == 16


def test_tardiness_needs_due_dates_and_options_are_checked():
    jobs = [Job(id="a", operations=[("M", 1)])]
    with pytest.raises(ScheduleError, match="needs due dates"):
        solve_schedule(jobs, objective="tardiness")
    with pytest.raises(ScheduleError, match="unknown objective"):
        solve_schedule(jobs, objective="cost")  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match="time_limit"):
        solve_schedule(jobs, time_limit=0)
    with pytest.raises(ScheduleError, match="appears more than once"):
        solve_schedule([jobs[0], jobs[0]])
    with pytest.raises(ScheduleError, match="no jobs"):
        solve_schedule([])


def test_release_times_are_respected():
    jobs = [
        Job(id="late", operations=[("M", 2)], release=10),
        Job(id="early", operations=[("M", 3)]),
    ]
    s = solve_schedule(jobs, time_limit=5, workers=1)
    assert s.operation("late", 0).start >= 10
    assert s.makespan == 12
    assert check_schedule(jobs, s) == []


def test_fractional_durations_are_exact():
    jobs = [Job(id="a", operations=[("M1", 0.5), ("M2", 1.25)]), Job(id="b", operations=[("M1", 0.75)])]
    s = solve_schedule(jobs, time_limit=5, workers=1)
    assert s.makespan == pytest.approx(1.75)
    assert check_schedule(jobs, s) == []


def test_warm_start_from_a_previous_schedule_is_used_first():
    jobs = ft06()
    previous = dispatch_schedule(jobs, "SPT")
    s = solve_schedule(jobs, time_limit=10, workers=2, warm_start=previous)
    assert "36/36 operations hinted" in (s.warm_start or "")
    assert "previous schedule (dispatch:SPT)" in (s.warm_start or "")
    # a complete, feasible hint is CP-SAT's first solution
    assert s.progress[0][1] == previous.makespan
    assert s.makespan == 55
    # a partial hint (the plan of yesterday's jobs, one new job today) is accepted as well
    partial = previous.model_copy(update={"operations": [o for o in previous.operations if o.job != "J5"]})
    s2 = solve_schedule(jobs, time_limit=10, workers=2, warm_start=partial)
    assert "30/36 operations hinted" in (s2.warm_start or "")
    assert s2.makespan == 55


def test_warm_start_choices():
    jobs = ft06()
    by_rule = solve_schedule(jobs, time_limit=10, workers=1, warm_start="EDD")
    assert by_rule.warm_start is not None and by_rule.warm_start.startswith("dispatch:EDD")
    cold = solve_schedule(jobs, time_limit=10, workers=1, warm_start=None)
    assert cold.warm_start is None and cold.makespan == 55
    with pytest.raises(ScheduleError, match="unknown dispatching rule"):
        solve_schedule(jobs, warm_start="NOPE")


def johnson_jobs() -> list[Job]:
    return [
        Job(id=n, operations=[("M1", a), ("M2", b)])
        for n, a, b in [("J1", 3, 6), ("J2", 5, 2), ("J3", 1, 2), ("J4", 6, 6), ("J5", 7, 5)]
    ]


@pytest.mark.parametrize("shop", ["job", "flow", "permutation"])
def test_two_machine_flow_shop_matches_johnsons_rule(shop):
    # Johnson: J3 J1 J4 | J5 J2 -> M1 ends 22, M2: 1-3, 4-10, 10-16, 17-22, 22-24 -> makespan 24
    jobs = johnson_jobs()
    s = solve_schedule(jobs, shop=shop, time_limit=10, workers=1)
    assert s.status == "OPTIMAL"
    assert s.makespan == 24
    assert check_schedule(jobs, s, shop="permutation" if shop == "permutation" else "job") == []


def test_permutation_shop_keeps_one_order_on_every_station():
    # on three machines the best permutation schedule can be worse than the best flow-shop one
    jobs = [
        Job(id="x", operations=[("A", 1), ("B", 4), ("C", 1)]),
        Job(id="y", operations=[("A", 4), ("B", 1), ("C", 4)]),
        Job(id="z", operations=[("A", 2), ("B", 2), ("C", 2)]),
    ]
    perm = solve_schedule(jobs, shop="permutation", time_limit=10, workers=1)
    orders = {station: [o.job for o in ops] for station, ops in perm.by_station().items()}
    assert orders["A"] == orders["B"] == orders["C"]
    assert check_schedule(jobs, perm, shop="permutation") == []
    # the permutation optimum by enumerating the 6 orders
    best = math.inf
    for order in itertools.permutations(jobs):
        free = [0.0, 0.0, 0.0]
        for j in order:
            t = 0.0
            for m, op in enumerate(j.operations):
                t = max(t, free[m]) + op.duration
                free[m] = t
        best = min(best, free[2])
    assert perm.makespan == best


def test_flow_shop_rejects_jobs_on_different_routes():
    jobs = [Job(id="a", operations=[("M1", 1), ("M2", 1)]), Job(id="b", operations=[("M2", 1), ("M1", 1)])]
    with pytest.raises(ScheduleError, match="same route; job 'b' has M2 → M1"):
        solve_schedule(jobs, shop="flow")


@pytest.mark.parametrize(("batch", "expected"), [(None, 20), (1, 11), (5, 15), (10, 20)])
def test_lot_streaming_lets_the_next_station_start_early(batch, expected):
    # 10 items, 1 min per item on each of two stations
    job = Job(
        id="order",
        operations=[
            Operation(station="S1", duration=10, items=10),
            Operation(station="S2", duration=10, items=10),
        ],
        transfer_batch=batch,
    )
    s = solve_schedule([job], time_limit=5, workers=1)
    assert s.makespan == expected
    assert check_schedule([job], s) == []


def test_lot_streaming_with_a_faster_downstream_station():
    # S1 2 min/item, S2 1 min/item, 10 items, one at a time: S2 takes each item as it arrives
    # (from 2 on) and ends 1 min after the last item leaves S1 at 20: busy 2-21 for 10 min of work.
    job = Job(
        id="order",
        operations=[
            Operation(station="S1", duration=20, items=10),
            Operation(station="S2", duration=10, items=10),
        ],
        transfer_batch=1,
    )
    s = solve_schedule([job], time_limit=5, workers=1)
    assert s.makespan == 21
    second = s.operation("order", 1)
    assert (second.start, second.end, second.work) == (2, 21, 10)
    assert check_schedule([job], s) == []
    # a third, slower station downstream of the fast one is paced by S1, not by S2's own speed
    job3 = job.model_copy(
        update={"operations": [*job.operations, Operation(station="S3", duration=15, items=10)]}
    )
    s3 = solve_schedule([job3], time_limit=5, workers=1)
    # items leave S1 every 2 min from 2 to 20, S2 adds 1, S3 takes 1.5 each: last done 20 + 1 + 1.5
    assert s3.makespan == 22.5


def test_transfer_batch_needs_items():
    with pytest.raises(ValueError, match="transfer_batch needs 'items'"):
        Job(id="x", operations=[("S1", 1)], transfer_batch=1)


def test_changeovers_between_products_are_sequenced():
    # one station, products x, y, x with a 5-unit changeover: best is x, x, y -> 1 + 1 + 5 + 1 = 8
    jobs = [
        Job(id=n, operations=[Operation(station="S", duration=1, product=p, setup=5)])
        for n, p in [("x1", "x"), ("y1", "y"), ("x2", "x")]
    ]
    s = solve_schedule(jobs, time_limit=5, workers=1)
    assert s.makespan == 8
    seq = s.by_station()["S"]
    assert [o.product for o in seq] == ["x", "x", "y"]
    assert seq[-1].setup == 5
    assert check_schedule(jobs, s) == []
    # the heuristic also charges changeovers
    h = dispatch_schedule(jobs, "FIFO")
    assert check_schedule(jobs, h) == []
    assert h.makespan >= 8


def test_check_schedule_reports_each_broken_rule():
    jobs = [Job(id="a", operations=[("M1", 2), ("M2", 2)], release=1), Job(id="b", operations=[("M1", 3)])]

    def sched(ops: list[ScheduledOperation]) -> Schedule:
        return Schedule(
            operations=ops,
            jobs=[],
            objective="makespan",
            objective_value=0,
            makespan=max(o.end for o in ops),
            total_tardiness=0,
            weighted_tardiness=0,
            status="FEASIBLE",
            solver="test",
        )

    bad = sched(
        [
            ScheduledOperation(job="a", index=0, station="M1", start=0, end=2),  # before release 1
            ScheduledOperation(job="a", index=1, station="M2", start=1, end=3),  # before a[0] ends
            ScheduledOperation(job="b", index=0, station="M1", start=1, end=3),  # overlaps a[0], short by 1
        ]
    )
    problems = check_schedule(jobs, bad)
    text = "\n".join(problems)
    assert "a starts at 0 before its release 1" in text
    assert "a[1] starts at 1 before a[0] ends at 2" in text
    assert "M1: b[0] starts at 1 before a[0] ends at 2" in text
    assert "b[0] lasts 2, its duration is 3" in text
    missing = sched([ScheduledOperation(job="a", index=0, station="M2", start=1, end=3)])
    text = "\n".join(check_schedule(jobs, missing))
    assert "operation 1 of job 'a' is not scheduled" in text
    assert "operation 0 of job 'b' is not scheduled" in text
    assert "a[0] runs on 'M2', its route says 'M1'" in text


def test_replay_reproduces_the_plan_and_right_shifts_under_delays():
    jobs = [
        Job(id="a", operations=[("M1", 3), ("M2", 2)]),
        Job(id="b", operations=[("M1", 2), ("M2", 4)]),
    ]
    plan = solve_schedule(jobs, time_limit=5, workers=1)
    # b first: b M1 0-2, M2 2-6; a M1 2-5, M2 6-8 -> 8 (a first would end at 9)
    assert plan.makespan == 8
    lines = planned_operations(plan)
    assert {(p.station, p.position) for p in lines} == {("M1", 0), ("M1", 1), ("M2", 0), ("M2", 1)}
    same = replay(plan, jobs, policy="planned")
    assert [(o.job, o.index, o.start, o.end) for o in same.operations] == [
        (o.job, o.index, o.start, o.end) for o in plan.operations
    ]
    # the first operation on M1 takes 4 longer: everything behind it on M1 shifts, the order stays
    first_on_m1 = plan.by_station()["M1"][0]
    delayed = replay(plan, jobs, {(first_on_m1.job, 0): first_on_m1.duration + 4})
    assert [o.job for o in delayed.by_station()["M1"]] == [o.job for o in plan.by_station()["M1"]]
    assert delayed.by_station()["M1"][1].start == first_on_m1.end + 4
    assert delayed.makespan > plan.makespan
    # durations as a function of the planned line (e.g. sampled process times)
    doubled = replay(plan, jobs, lambda p: 2 * p.duration)
    assert doubled.makespan == 2 * plan.makespan
    with pytest.raises(ScheduleError, match="must be >= 0"):
        replay(plan, jobs, lambda p: -1.0)
