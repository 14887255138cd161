"""Optimisation on the twin: scheduling (OR-Tools CP-SAT), routing (PyVRP / OR-Tools), flows.

Import the capability you need from its module, e.g. ``from twinforge.optimize.scheduling import
solve_schedule`` or ``from twinforge.optimize.routing import solve_routing``.
"""
