"""The HTTP and WebSocket API of ``twinforge serve``: a thin face over :class:`~twinforge.app.Workspace`.

Every route parses its input, checks the caller's role, calls one workspace method and returns
its JSON. OpenAPI at ``/openapi.json``, interactive docs at ``/docs``. Errors are JSON with a
``detail`` (and, for invalid twins and scenarios, ``errors`` with field paths and lines):
400 bad request, 401 no or wrong API key, 403 role too low, 404 unknown twin/node/job/alert,
413 body too large, 422 invalid input, 429 too many requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from twinforge.app import JobRequest, Workspace
from twinforge.app.events import TOPICS
from twinforge.app.keys import allows
from twinforge.app.twins import issue_dict
from twinforge.data.emulator import SensorFault
from twinforge.errors import SpecError, TwinforgeError, UnknownEntityError

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"
MAX_TEXT = 1_000_000
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


# -- request bodies ---------------------------------------------------------------------------------
class TwinText(BaseModel):
    """A twin as text, in the twin language (YAML or JSON)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_TEXT)
    format: Literal["yaml", "json"] = "yaml"


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)


class Ack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=500)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    role: Literal["viewer", "operator", "admin"] = "viewer"


# -- who is calling -----------------------------------------------------------------------------------
class Caller(BaseModel):
    name: str
    role: str


class RateLimiter:
    """A token bucket per caller: ``per_min`` requests a minute, bursts up to a tenth of that."""

    def __init__(self, per_min: int) -> None:
        self.rate = per_min / 60.0
        self.burst = max(10.0, per_min / 10.0)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(who, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[who] = (tokens, now)
            return False
        self._buckets[who] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:  # forget idle callers
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
        return True


def _presented(headers: Any, query: Any) -> str | None:
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-api-key") or query.get("key")


def _caller(
    ws: Workspace, limiter: RateLimiter, headers: Any, query: Any, client: str, needed: str
) -> Caller:
    if not ws.keys.enabled:
        caller = Caller(name="local", role="admin")
        who = f"addr:{client}"
    else:
        key = ws.keys.verify(_presented(headers, query))
        if key is None:
            raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
        caller = Caller(name=key.name, role=key.role)
        who = f"key:{key.id}"
    if not allows(caller.role, needed):
        raise HTTPException(403, f"this needs the {needed} role; the key {caller.name!r} is {caller.role}")
    if not limiter.allow(who):
        raise HTTPException(429, "too many requests; slow down", headers={"Retry-After": "1"})
    return caller


def need(role: str) -> Callable[[Request], Caller]:
    def dependency(request: Request) -> Caller:
        app = request.app
        client = request.client.host if request.client else "?"
        return _caller(app.state.ws, app.state.limiter, request.headers, request.query_params, client, role)

    return dependency


Viewer = Annotated[Caller, Depends(need("viewer"))]
Operator = Annotated[Caller, Depends(need("operator"))]
Admin = Annotated[Caller, Depends(need("admin"))]


# -- the app -------------------------------------------------------------------------------------------
class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 (declared or streamed)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(ws: Workspace) -> FastAPI:
    """The API and the web app over ``ws``."""
    from twinforge import __version__

    app = FastAPI(
        title="twinforge",
        version=__version__,
        description="Digital twins paired with generative AI: twins, live signals, alerts, scenario jobs, "
        "questions answered by the twin. Send an API key as `Authorization: Bearer tf_...` or `X-API-Key` "
        "when the workspace has keys.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ws = ws
    app.state.limiter = RateLimiter(ws.settings.rate_limit_per_min)
    if ws.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=ws.settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(BodyLimit, limit=ws.settings.max_body_bytes)

    @app.exception_handler(SpecError)
    async def _spec_error(_r: Request, exc: SpecError) -> JSONResponse:
        head = str(exc).splitlines()[0]
        return JSONResponse({"detail": head, "errors": [issue_dict(i) for i in exc.issues]}, 422)

    @app.exception_handler(UnknownEntityError)
    async def _unknown(_r: Request, exc: UnknownEntityError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 404)

    @app.exception_handler(TwinforgeError)
    async def _bad(_r: Request, exc: TwinforgeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 400)

    # -- the service --------------------------------------------------------------------------------
    @app.get("/api/health", tags=["service"])
    def health(_c: Viewer) -> dict[str, Any]:
        """Service status: twins, broker, live ingest and monitoring, jobs, subscribers."""
        return ws.status()

    # -- twins ------------------------------------------------------------------------------------------
    @app.get("/api/twins", tags=["twins"])
    def twins(_c: Viewer) -> list[dict[str, Any]]:
        """Every twin: name, engine, size, products, latest version."""
        return ws.twin_list()

    @app.get("/api/twins/{name}", tags=["twins"])
    def twin(name: str, _c: Viewer) -> dict[str, Any]:
        """One twin: its spec (JSON), its text, its live status."""
        return ws.twin(name)

    @app.put("/api/twins/{name}", tags=["twins"])
    def put_twin(
        name: Annotated[str, PathParam(pattern=NAME)], body: TwinText, _c: Operator
    ) -> dict[str, Any]:
        """A new version of a twin (or a new twin), validated first: 422 with every issue when invalid."""
        return ws.put_twin(name, body.text, body.format)

    @app.post("/api/validate", tags=["twins"])
    def validate(body: TwinText, _c: Viewer) -> dict[str, Any]:
        """Check a twin text without keeping it: ok, and every error and warning with its field path."""
        return ws.validate(body.text, body.format)

    @app.get("/api/twins/{name}/graph", tags=["twins"])
    def twin_graph(name: str, _c: Viewer) -> dict[str, Any]:
        """Nodes (kind, position, live status) and edges, for drawing."""
        return ws.graph(name)

    @app.get("/api/twins/{name}/nodes/{node}", tags=["twins"])
    def twin_node(name: str, node: str, _c: Viewer) -> dict[str, Any]:
        """A node: parameters with units and meaning, states, signals."""
        return ws.node(name, node)

    @app.get("/api/twins/{name}/versions", tags=["twins"])
    def versions(name: str, _c: Viewer) -> list[dict[str, Any]]:
        return ws.versions(name)

    @app.get("/api/twins/{name}/diff", tags=["twins"])
    def diff(
        name: str,
        _c: Viewer,
        a: Annotated[int, Query(ge=1)] = 1,
        b: Annotated[int | None, Query(ge=1)] = None,
    ) -> dict[str, Any]:
        """What changed from version ``a`` to ``b`` (default: the latest)."""
        return ws.diff(name, a, b)

    # -- signals ----------------------------------------------------------------------------------------
    @app.get("/api/twins/{name}/signals", tags=["signals"])
    def signals(name: str, _c: Viewer) -> list[dict[str, Any]]:
        """Every signal with its latest stored value, age and status (fresh / stale / missing)."""
        return ws.signals(name)

    @app.get("/api/twins/{name}/latest", tags=["signals"])
    def latest(name: str, _c: Viewer) -> list[dict[str, Any]]:
        """Current value of each signal (from the live feed when there is one)."""
        return ws.latest(name)

    @app.get("/api/twins/{name}/signals/{node}/{signal}", tags=["signals"])
    def signal_range(
        name: str,
        node: str,
        signal: str,
        _c: Viewer,
        start: str | None = None,
        end: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    ) -> dict[str, Any]:
        """Stored samples of one signal between ``start`` and ``end`` (ISO times or '-15 min')."""
        return ws.signal_range(name, node, signal, _when(start), _when(end), limit)

    @app.get("/api/twins/{name}/resample", tags=["signals"])
    def resample(
        name: str,
        _c: Viewer,
        every: Annotated[str, Query(max_length=40)] = "1 min",
        agg: Literal["mean", "min", "max", "last", "first", "count", "sum", "std"] = "mean",
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        """Every signal on a regular grid (one row per bucket, one column per signal)."""
        return ws.resample(name, every, agg, _when(start), _when(end))

    @app.get("/api/twins/{name}/state", tags=["signals"])
    def state(name: str, _c: Viewer) -> dict[str, Any]:
        """The twin's current state, synced from its newest telemetry."""
        return ws.state(name)

    # -- alerts --------------------------------------------------------------------------------------------
    @app.get("/api/alerts", tags=["alerts"])
    def alerts(
        _c: Viewer,
        twin: str | None = None,
        open: bool = False,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    ) -> list[dict[str, Any]]:
        """Alerts, newest first: node, signal, score, threshold, contributing signals, acknowledgement,
        and what each carries: ``diagnosis`` (the likely fault and its probability, or unknown, or
        why there is none yet), ``work_orders`` (the node's matching past work orders with date and
        text) and ``remaining_life`` (with its interval, or "no RUL model")."""
        return ws.alerts(twin, open_only=open, limit=limit)

    @app.get("/api/alerts/{alert_id}", tags=["alerts"])
    def alert(alert_id: int, _c: Viewer) -> dict[str, Any]:
        """One alert with its diagnosis, work orders and remaining life."""
        return ws.alert(alert_id)

    @app.post("/api/alerts/{alert_id}/ack", tags=["alerts"])
    def ack(alert_id: int, caller: Operator, body: Annotated[Ack | None, Body()] = None) -> dict[str, Any]:
        """Acknowledge an alert (who and when are kept)."""
        return ws.ack(alert_id, caller.name)

    @app.get("/api/twins/{name}/warnings", tags=["alerts"])
    def warnings(name: str, _c: Viewer) -> dict[str, Any]:
        """The latest early warning from the synced state (probability and time of events)."""
        ws.twins.get(name)
        return ws.warnings.get(name) or {"events": [], "at": None}

    @app.post("/api/twins/{name}/warnings", tags=["alerts"])
    def warn_now(name: str, _c: Operator) -> dict[str, Any]:
        """Run the early warning now."""
        return ws.warn_now(name)

    @app.post("/api/twins/{name}/faults", tags=["alerts"])
    def inject_fault(name: str, fault: SensorFault, _c: Operator) -> dict[str, Any]:
        """Make an emulated sensor fail (demo and test plants only): offset, gain, stuck, drift, noise, spike."""
        return ws.inject_fault(name, fault)

    @app.delete("/api/twins/{name}/faults", tags=["alerts"])
    def clear_faults(
        name: str, _c: Operator, node: str | None = None, signal: str | None = None
    ) -> dict[str, Any]:
        return ws.clear_faults(name, node, signal)

    # -- jobs -----------------------------------------------------------------------------------------------
    @app.post("/api/twins/{name}/jobs", tags=["jobs"], status_code=202)
    def submit(name: str, request: JobRequest, _c: Operator) -> dict[str, Any]:
        """Run a scenario (or the baseline) as a job: simulate, optimize, schedule, route or warn; or judge a
        control proposal against the twin (guard, docs/guard.md)."""
        return ws.submit(name, request)

    @app.get("/api/jobs", tags=["jobs"])
    def jobs(_c: Viewer, twin: str | None = None) -> list[dict[str, Any]]:
        return ws.job_list(twin)

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def job(job_id: str, _c: Viewer) -> dict[str, Any]:
        """A job: status, progress, and its result once done."""
        return ws.job(job_id)

    @app.delete("/api/jobs/{job_id}", tags=["jobs"])
    def cancel(job_id: str, _c: Operator) -> dict[str, Any]:
        return ws.cancel(job_id)

    # -- asking ---------------------------------------------------------------------------------------------
    @app.post("/api/twins/{name}/ask", tags=["ask"])
    def ask(name: str, body: Question, _c: Viewer) -> dict[str, Any]:
        """A question in plain language, answered by running the twin: the plan, the interventions,
        the numbers the run computed — or the specific reason it is declined."""
        return ws.ask(name, body.question)

    @app.get("/api/twins/{name}/examples", tags=["ask"])
    def examples(name: str, _c: Viewer, k: Annotated[int, Query(ge=1, le=50)] = 8) -> list[str]:
        """Questions this twin answers, generated from the twin (and checked by running the reader)."""
        return ws.examples(name, k)

    # -- audit and keys ----------------------------------------------------------------------------------------
    @app.get("/api/audit", tags=["service"])
    def audit(
        _c: Operator, limit: Annotated[int, Query(ge=1, le=1000)] = 100, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """Every model call: when, which model, prompt and response (as stored), tokens, outcome."""
        return ws.audit(limit, kind)

    @app.get("/api/keys", tags=["service"])
    def keys(_c: Admin) -> list[dict[str, Any]]:
        return [k.public() for k in ws.keys.list()]

    @app.post("/api/keys", tags=["service"], status_code=201)
    def add_key(body: NewKey, _c: Admin) -> dict[str, Any]:
        """A new API key; the secret is in this response only."""
        key, secret = ws.keys.add(body.name, body.role)
        return {**key.public(), "key": secret}

    # -- live events ---------------------------------------------------------------------------------------------
    @app.websocket("/api/stream")
    async def stream(socket: WebSocket) -> None:
        """Live events as JSON: ``{seq, topic, twin, at, data}``; query ``topics`` (comma list of
        values, alerts, jobs, twins, warnings, status) and ``twins``; ``key`` when keys are on."""
        client = socket.client.host if socket.client else "?"
        try:
            _caller(ws, app.state.limiter, socket.headers, socket.query_params, client, "viewer")
        except HTTPException as exc:
            await socket.close(code=4401 if exc.status_code == 401 else 4403, reason=str(exc.detail))
            return
        topics = [t for t in (socket.query_params.get("topics") or ",".join(TOPICS)).split(",") if t]
        twins_q = socket.query_params.get("twins")
        try:
            sub = ws.bus.subscribe(
                topics, twins_q.split(",") if twins_q else None, loop=asyncio.get_running_loop(), maxsize=2000
            )
        except ValueError as exc:
            await socket.close(code=4400, reason=str(exc))
            return
        await socket.accept()
        # wait on the bus and on the socket at once: a client that leaves is noticed at once, not
        # at the next event of a quiet stream
        receiver = asyncio.ensure_future(socket.receive())
        getter: asyncio.Future | None = None
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(sub.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:  # an event taken from the queue is always sent
                    event = getter.result()
                    getter = None
                    if event is None:
                        if sub.overflowed:
                            await socket.close(code=1013, reason="client too slow: events overflowed")
                        break
                    await socket.send_json(event.as_dict())
                if receiver in done:
                    if receiver.result().get("type") == "websocket.disconnect":
                        break
                    receiver = asyncio.ensure_future(socket.receive())  # what clients send is ignored
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass
        finally:
            receiver.cancel()
            if getter is not None:
                getter.cancel()
            sub.close()
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, ConnectionError):
                await socket.close()

    # -- the web app ---------------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB / "index.html")

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        import plotly

        return FileResponse(
            Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript"
        )

    app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg")

    return app


def _when(text: str | None) -> Any:
    """A time bound: ISO text, or relative to now ('-15 min')."""
    if text is None or text == "":
        return None
    t = text.strip()
    if t.startswith("-"):
        from twinforge.data.model import duration_us, now_us

        try:
            return (now_us() - duration_us(t[1:].strip())) / 1e6
        except Exception:
            raise HTTPException(422, f"cannot read time {text!r}; use ISO-8601 or '-15 min'") from None
    import pandas as pd

    try:
        ts = pd.Timestamp(t)
    except (ValueError, TypeError):
        raise HTTPException(422, f"cannot read time {text!r}; use ISO-8601 or '-15 min'") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts


__all__ = ["create_app"]
