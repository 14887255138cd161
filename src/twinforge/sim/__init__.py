"""Simulation: discrete-event and continuous-state execution of a twin, KPIs, Monte Carlo,
scenario comparison with common random numbers, and early warning from the current state.

Python entry points::

    from twinforge.sim import run_replications, compare_scenario, early_warning, simulate

    mc = run_replications(twin, reps=100, horizon="1 week", seed=1, workers=2)
    mc.summary()                       # KPI, mean, std, CI
    cmp = compare_scenario(twin, scenario, reps=50, horizon="1 day")
    cmp.paired                         # mean difference, CI, variance reduction
    ew = early_warning(twin, {"buf_fill": {"level": 20}}, horizon="8 h")
    ew.table                           # probability and expected time of each event

Seams for other parts of twinforge: :func:`iter_telemetry` (samples over simulated time, for a
plant emulator), :func:`replay_schedule` (a production schedule under breakdowns and noise) and
:func:`early_warning` (a starting state as a plain ``{node: {state: value}}`` mapping).
"""

from twinforge.sim.errors import KpiExpressionError, SimulationError
from twinforge.sim.expressions import evaluate
from twinforge.sim.kernel import Kernel, StopSimulation
from twinforge.sim.model import Model, ReplicationResult, RunOptions, run_replication, start_state
from twinforge.sim.montecarlo import (
    Comparison,
    MonteCarloResult,
    compare_scenario,
    paired_comparison,
    run_replications,
    simulate,
    summarise,
    t_interval,
)
from twinforge.sim.plan import SIM_OPS, ModelPlan, compile_twin, parse_duration
from twinforge.sim.schedule import ScheduledOperation, ScheduleReplay, replay_schedule
from twinforge.sim.series import Series
from twinforge.sim.streams import Streams
from twinforge.sim.telemetry import TelemetrySample, iter_telemetry
from twinforge.sim.warning import (
    BufferOverflow,
    EarlyWarningEvent,
    EarlyWarningResult,
    NodeFailure,
    TargetMissed,
    ThresholdCrossing,
    default_events,
    early_warning,
    parse_event,
    starting_state,
    state_mapping,
)

__all__ = [
    "SIM_OPS",
    "BufferOverflow",
    "Comparison",
    "EarlyWarningEvent",
    "EarlyWarningResult",
    "Kernel",
    "KpiExpressionError",
    "Model",
    "ModelPlan",
    "MonteCarloResult",
    "NodeFailure",
    "ReplicationResult",
    "RunOptions",
    "ScheduleReplay",
    "ScheduledOperation",
    "Series",
    "SimulationError",
    "StopSimulation",
    "Streams",
    "TargetMissed",
    "TelemetrySample",
    "ThresholdCrossing",
    "compare_scenario",
    "compile_twin",
    "default_events",
    "early_warning",
    "evaluate",
    "iter_telemetry",
    "paired_comparison",
    "parse_duration",
    "parse_event",
    "replay_schedule",
    "run_replication",
    "run_replications",
    "simulate",
    "start_state",
    "starting_state",
    "state_mapping",
    "summarise",
    "t_interval",
]
