"""Bounds of the CLI's numeric options, checked when the command line is parsed.

A value out of range is a usage error (exit code 2, the option named, nothing loaded or run), never
a crash at the end of a run. Integers use click's ranges (``--help`` shows them); floats and
durations go through the callbacks below, which also refuse ``nan`` and ``inf`` (click's float
ranges let NaN through) and say their range in the help text.

Documented in docs/sim.md ("Bounds of the options"), docs/optimize.md and docs/analytics.md refer to
the same limits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import typer

#: Replications of a simulation (``--reps``, ``--replay``).
MAX_REPS = 100_000
#: Random seeds are 32-bit unsigned integers.
MAX_SEED = 2**32 - 1
#: Longest simulated time (``--horizon``, ``--warmup``, ``--day-elapsed``): 10 years of 365 days.
MAX_HORIZON_S = 10 * 365 * 86_400.0
#: Parallel workers (processes, solver threads).
MAX_WORKERS = 1024
#: Longest solver time limit (``--time-limit``): one day.
MAX_TIME_LIMIT_S = 86_400.0


def reps_option(help: str = "Replications", names: tuple[str, ...] = ("--reps", "-n"), low: int = 1) -> Any:
    """``--reps``-like option: an integer in ``low..MAX_REPS``."""
    return typer.Option(*names, min=low, max=MAX_REPS, help=help)


def seed_option(help: str = "Random seed") -> Any:
    return typer.Option("--seed", min=0, max=MAX_SEED, help=help)


def workers_option(help: str = "Parallel workers", names: tuple[str, ...] = ("--workers", "-w")) -> Any:
    return typer.Option(*names, min=1, max=MAX_WORKERS, help=help)


def number_in(
    low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> Callable[[Any], Any]:
    """A callback accepting a finite float in the range (``None`` passes: the option's default)."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        ok = math.isfinite(value) and (value > low if low_open else value >= low)
        ok = ok and (value < high if high_open else value <= high)
        if not ok:
            lo = f"{'>' if low_open else '>='} {low:g}"
            hi = f"{'<' if high_open else '<='} {high:g}"
            raise typer.BadParameter(f"must be a finite number {lo} and {hi}, found {value}")
        return value

    return check


def duration_in(what: str, *, positive: bool) -> Callable[[Any], Any]:
    """A callback accepting a time (``'8 h'``, seconds) that is finite, not negative (positive when
    asked) and at most :data:`MAX_HORIZON_S`. The text is passed on unchanged."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        from twinforge.errors import TwinforgeError
        from twinforge.sim.plan import parse_duration

        try:
            seconds = parse_duration(value, what)
        except TwinforgeError as exc:
            raise typer.BadParameter(str(exc)) from None
        if positive and seconds <= 0:
            raise typer.BadParameter(f"{what} must be positive, found {value!r}")
        if seconds > MAX_HORIZON_S:
            raise typer.BadParameter(
                f"{what} {value!r} is longer than the limit of {MAX_HORIZON_S / 86_400 / 365:g} years"
            )
        return value

    return check


def horizon_option(help: str, name: str = "--horizon", positive: bool = True) -> Any:
    """A duration option: finite, at most 10 years; positive (a horizon) or not negative (a warm-up)."""
    bound = "> 0" if positive else ">= 0"
    return typer.Option(
        name,
        callback=duration_in(name.lstrip("-"), positive=positive),
        help=f"{help} ({bound}, at most 10 years)",
    )


def time_limit_option(
    help: str = "Solver time limit, s", names: tuple[str, ...] = ("--time-limit", "-t")
) -> Any:
    return typer.Option(
        *names,
        callback=number_in(0, MAX_TIME_LIMIT_S, low_open=True),
        help=f"{help} (> 0, at most {MAX_TIME_LIMIT_S:,.0f})",
    )
