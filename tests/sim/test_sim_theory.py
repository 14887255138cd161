"""The simulator against queueing theory: M/M/1, M/M/c (Erlang C), a Jackson tandem, Little's law."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from twinforge.sim import run_replications


def ci99(values: np.ndarray) -> tuple[float, float]:
    n = len(values)
    m, s = values.mean(), values.std(ddof=1)
    h = stats.t.ppf(0.995, n - 1) * s / math.sqrt(n)
    return m - h, m + h


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean waiting time in queue of M/M/c."""
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / (math.factorial(c) * (1 - rho))
    p_wait = tail / (head + tail)
    return p_wait / (c * mu - lam)


def test_mm1_mean_wait_in_queue_matches_theory(tw):
    lam, mu = 0.7, 1.0
    twin = tw.line("mm1", tw.exp(1 / lam), [{"process_time": tw.exp(1 / mu)}], buffers=[10**9])
    mc = run_replications(twin, reps=10, horizon=30000, warmup=1000, seed=11)
    wq = mc.values("b1.mean_wait")
    theory = lam / (mu * (mu - lam))
    lo, hi = ci99(wq)
    assert lo <= theory <= hi, (lo, theory, hi)
    # utilisation and queue length agree with theory too
    assert mc.kpi("s1.busy")["mean"] == pytest.approx(lam / mu, rel=0.02)
    assert mc.kpi("b1.mean_level")["mean"] == pytest.approx(lam * theory, rel=0.08)


def test_mmc_mean_wait_matches_erlang_c(tw):
    lam, mu, c = 2.4, 1.0, 3
    twin = tw.line("mm3", tw.exp(1 / lam), [{"process_time": tw.exp(1 / mu), "servers": c}], buffers=[10**9])
    mc = run_replications(twin, reps=10, horizon=12000, warmup=1000, seed=5)
    wq = mc.values("b1.mean_wait")
    theory = erlang_c_wait(lam, mu, c)  # 1.0787...
    lo, hi = ci99(wq)
    assert lo <= theory <= hi, (lo, theory, hi)
    assert mc.kpi("s1.busy")["mean"] == pytest.approx(lam / (c * mu), rel=0.02)


def test_tandem_of_two_mm1_matches_jackson_product_form(tw):
    lam, mu1, mu2 = 0.5, 1.0, 0.8
    twin = tw.line(
        "tandem",
        tw.exp(1 / lam),
        [{"process_time": tw.exp(1 / mu1)}, {"process_time": tw.exp(1 / mu2)}],
        buffers=[10**9, 10**9],
    )
    mc = run_replications(twin, reps=10, horizon=40000, warmup=2000, seed=3)
    rho1, rho2 = lam / mu1, lam / mu2
    number = rho1 / (1 - rho1) + rho2 / (1 - rho2)  # product form: independent M/M/1 queues
    sojourn = number / lam
    lo, hi = ci99(mc.values("cycle_time"))
    assert lo <= sojourn <= hi, (lo, sojourn, hi)
    lo, hi = ci99(mc.values("wip"))
    assert lo <= number <= hi, (lo, number, hi)


def test_littles_law_holds_on_the_bottling_line(bottling_line):
    mc = run_replications(bottling_line, reps=6, horizon="2 day", warmup="2 h", seed=21)
    L = mc.values("wip")
    lam = mc.values("throughput") / 3600.0  # items per second
    W = mc.values("cycle_time")  # seconds
    lo, hi = ci99(L)
    assert lo <= float(np.mean(lam * W)) <= hi
    # and replication by replication, up to the items still inside at the end
    assert np.allclose(L, lam * W, rtol=0.03)
