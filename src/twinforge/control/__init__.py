"""Checks and balances for generated control: proposals judged against the twin before deployment.

- :mod:`twinforge.control.proposal`: the proposal language (setpoint changes, a timetable, or a
  controller);
- :mod:`twinforge.control.code`: the controller language and its static checks;
- :mod:`twinforge.control.loop`: closed-loop runs in nominal and stress scenarios;
- :mod:`twinforge.control.constraints`: the twin's bounds and the user's limits;
- :mod:`twinforge.control.sandbox`: the limited process the runs happen in;
- :mod:`twinforge.control.guard`: :func:`judge`, the verdict with its evidence;
- :mod:`twinforge.control.request`: a band asked for in a question, as a controller proposal.
"""

from twinforge.control.guard import Verdict, judge
from twinforge.control.proposal import load_proposal, parse_proposal

__all__ = ["Verdict", "judge", "load_proposal", "parse_proposal"]
