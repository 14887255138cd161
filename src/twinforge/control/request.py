"""A request to keep a state in a band ("keep the tower between 40 and 60 %") as a controller
proposal the guard judges (see docs/guard.md, "From a question").

The controller is written by code from a template, never by a model: a proportional band
controller on the pumps that fill (or drain) the tank, duty first and the next pump when the one
running has failed. Its limits are the band asked for, so the guard's verdict says whether the
twin holds the band in the nominal and the stress scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

from twinforge.control.proposal import Bounds, ControllerProposal, SignalLimit
from twinforge.errors import TwinforgeError
from twinforge.spec.catalog import CATALOG
from twinforge.spec.models import TwinSpec

#: the states a band request may name, per kind, and the actuator kinds that move them
HOLDABLE = {"tank": "level"}


class RequestError(TwinforgeError):
    """The request cannot be turned into a controller on this twin; ``reason`` is a decline reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Actuators:
    """The pumps that move a tank's level: those that fill it and those that drain it."""

    fill: tuple[str, ...]
    drain: tuple[str, ...]


def actuators(twin: TwinSpec, tank: str) -> Actuators:
    """Pumps with a speed setpoint right upstream (fill) or downstream (drain) of ``tank``."""
    speed_ok = "speed" in CATALOG["pump"].params and CATALOG["pump"].params["speed"].setpoint
    fill, drain = [], []
    for e in twin.edges:
        if e.target == tank and twin.has_node(e.source) and twin.node(e.source).kind == "pump":
            fill.append(e.source)
        if e.source == tank and twin.has_node(e.target) and twin.node(e.target).kind == "pump":
            drain.append(e.target)
    if not speed_ok:  # pragma: no cover - the catalogue gives pumps a speed setpoint
        return Actuators((), ())
    return Actuators(tuple(dict.fromkeys(fill)), tuple(dict.fromkeys(drain)))


def band_controller(
    twin: TwinSpec, target: str, quantity: str, low: float | None, high: float | None
) -> ControllerProposal:
    """A controller proposal that keeps ``target.quantity`` between ``low`` and ``high`` (in the
    state's catalogue unit; either may be None), with the band as its limits."""
    if not twin.has_node(target):
        raise RequestError("unknown_entity", f"the twin has no {target!r}")
    kind = twin.node(target).kind
    if HOLDABLE.get(kind) != quantity:
        raise RequestError(
            "not_modelled", f"a controller can hold a tank's level, not the {quantity} of a {kind}"
        )
    capacity = twin.get(target, "capacity")
    lo = 0.0 if low is None else float(low)
    hi = float(capacity) if high is None else float(high)
    if not 0 <= lo < hi <= capacity:
        raise RequestError(
            "outside_physical_limits",
            f"the band {lo:g}..{hi:g} m^3 does not fit {target!r} (capacity {capacity:g} m^3, low below high)",
        )
    pumps = actuators(twin, target)
    if not pumps.fill and not pumps.drain:
        raise RequestError("not_modelled", f"no pump with a speed setpoint fills or drains {target!r}")
    # fill pumps run harder as the level falls; drain pumps as it rises
    use, rising = (pumps.fill, False) if pumps.fill else (pumps.drain, True)
    ref = f"{target}.{quantity}"
    observe = [ref, *(f"{p}.status" for p in use)]
    frac = f"(level - {lo!r}) / {hi - lo!r}" if rising else f"({hi!r} - level) / {hi - lo!r}"
    code = "\n".join(
        [
            "def control(obs, memory):",
            f"    level = obs[{ref!r}]",
            "    if level is None:",
            "        return {}",
            f"    speed = min(1.0, max(0.0, {frac}))",
            f"    pumps = {list(use)!r}",
            "    out = {p + '.speed': 0.0 for p in pumps}",
            "    for p in pumps:  # duty first; the next one when the one before has failed",
            "        if obs[p + '.status'] != 0:",
            "            out[p + '.speed'] = speed",
            "            break",
            "    return out",
        ]
    )
    side = "drain" if rising else "fill"
    return ControllerProposal(
        name=f"keep-{target}-{quantity}",
        description=(
            f"a proportional band controller on the pumps that {side} {target} ({', '.join(use)}), full "
            f"speed at the {'top' if rising else 'bottom'} of the band {lo:g}..{hi:g} m^3 and stopped at "
            "the other end; the next pump takes over when the running one has failed."
        ),
        observe=observe,
        actuate={f"{p}.speed": Bounds(min=0.0, max=1.0) for p in use},
        period=60.0,
        code=code,
        limits=[SignalLimit(signal=ref, min=None if low is None else lo, max=None if high is None else hi)],
    )
