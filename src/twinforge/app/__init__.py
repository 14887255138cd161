"""The application core: one :class:`Workspace` below every face (CLI, HTTP API, web app).

See ``docs/serve.md``. Modules: :mod:`~twinforge.app.workspace` (the operations),
:mod:`~twinforge.app.twins` (twins and their versions), :mod:`~twinforge.app.live` (ingest,
monitoring, alerts, emulated plants), :mod:`~twinforge.app.jobs` (scenario runs as jobs),
:mod:`~twinforge.app.events` (live events), :mod:`~twinforge.app.keys` (API keys and roles),
:mod:`~twinforge.app.views` (JSON views of twins and results).
"""

from twinforge.app.events import Event, EventBus, Subscription
from twinforge.app.jobs import JobOptions, JobRequest
from twinforge.app.keys import KeyRing
from twinforge.app.workspace import ServeSettings, Workspace

__all__ = [
    "Event",
    "EventBus",
    "JobOptions",
    "JobRequest",
    "KeyRing",
    "ServeSettings",
    "Subscription",
    "Workspace",
]
